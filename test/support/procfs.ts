import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone, or no /proc
  }
}

/** The direct children of `pid` (from /proc; `pgrep -P` where there is no /proc). */
export function childPids(pid: number): number[] {
  if (existsSync('/proc')) {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name) && Number(statFields(name)?.[1]) === pid)
      .map(Number);
  }
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((s) => Number(s));
}

/** The state letter of a process ("T" when stopped); undefined without /proc or once it is gone. */
export const processState = (pid: number): string | undefined => statFields(pid)?.[0];

/** Whether a process with this pid exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
