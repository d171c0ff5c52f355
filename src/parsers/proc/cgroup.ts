// /proc/PID/cgroup (kernel/cgroup/cgroup.c proc_cgroup_show; Documentation/admin-guide/
// cgroup-v2.rst "Processes"): "hierarchy-ID:controller-list:cgroup-path" per line. The v2
// line is "0::/path"; v1 lines list their controllers ("4:memory:/…", "1:name=systemd:/…").

export interface CgroupLine {
  hierarchyId: number;
  controllers: string[];
  path: string;
}

export function parseCgroupFile(text: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const id = Number(line.slice(0, a));
    if (!Number.isInteger(id)) continue;
    const ctl = line.slice(a + 1, b);
    out.push({ hierarchyId: id, controllers: ctl === '' ? [] : ctl.split(','), path: line.slice(b + 1) });
  }
  return out;
}

/**
 * The cgroup that best names where a process's memory is charged: the v1 memory
 * controller's cgroup when that hierarchy exists (memory is charged there), otherwise the
 * v2 unified path, otherwise the name=systemd path. Undefined when the file lists nothing.
 */
export function memoryCgroupPath(lines: readonly CgroupLine[]): string | undefined {
  const v1 = lines.find((l) => l.controllers.includes('memory'));
  if (v1) return v1.path;
  const v2 = lines.find((l) => l.hierarchyId === 0 && l.controllers.length === 0);
  if (v2) return v2.path;
  return lines.find((l) => l.controllers.includes('name=systemd'))?.path;
}
