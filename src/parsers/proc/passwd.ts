// /etc/passwd (passwd(5)): "name:password:uid:gid:gecos:home:shell". Only name and uid are
// used, to show user names; the first entry for a uid wins, as getpwuid(3) does.

export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(':');
    const name = parts[0];
    const uid = Number(parts[2]);
    if (!name || parts.length < 4 || !Number.isInteger(uid)) continue;
    if (!out.has(uid)) out.set(uid, name);
  }
  return out;
}
