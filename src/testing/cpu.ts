/** Burns `ms` of this process's CPU time: what FairDispatch measures a slot by (a wall-clock wait under load may burn less). */
export function burnCpu(ms: number): void {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const end = cpu() + ms;
  while (cpu() < end);
}
