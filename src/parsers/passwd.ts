// /etc/passwd → uid to user name. Format per passwd(5): name:password:uid:gid:gecos:home:shell.
// Lines that do not fit are skipped (NIS "+" entries, comments); the first name of a uid wins,
// as getpwuid(3) returns the first match.

export function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 3) continue;
    const [name = '', , uidText = ''] = fields;
    if (name === '' || !/^[0-9]{1,10}$/.test(uidText)) continue;
    const uid = Number(uidText);
    if (!names.has(uid)) names.set(uid, name);
  }
  return names;
}
