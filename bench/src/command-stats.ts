/** Calls and microseconds Redis has spent on one command since its stats were last reset. */
export interface CommandStat {
  readonly calls: number;
  readonly micros: number;
}

/** A command's share of each event's Redis time over a phase. */
export interface CommandCost {
  readonly command: string;
  readonly microsPerEvent: number;
  readonly callsPerEvent: number;
}

const STAT_LINE = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/;

/** The `cmdstat_<command>` lines of INFO commandstats, by command (subcommands as `xinfo|groups`). */
export function parseCommandStats(info: string): Map<string, CommandStat> {
  const stats = new Map<string, CommandStat>();
  for (const line of info.split(/\r?\n/)) {
    const match = STAT_LINE.exec(line);
    if (match) stats.set(match[1]!, { calls: Number(match[2]), micros: Number(match[3]) });
  }
  return stats;
}

/**
 * What each command cost per event between two readings, costliest first, the `top` costliest only.
 * Redis counts a command a script runs both on its own and in the script call's time, so a
 * script's figure holds those of the commands it ran, and the figures do not add up to the whole.
 */
export function commandCostsPerEvent(
  before: ReadonlyMap<string, CommandStat>,
  after: ReadonlyMap<string, CommandStat>,
  events: number,
  top: number,
): CommandCost[] {
  const costs: CommandCost[] = [];
  for (const [command, { calls, micros }] of after) {
    const earlier = before.get(command) ?? { calls: 0, micros: 0 };
    if (calls === earlier.calls) continue;
    costs.push({
      command,
      microsPerEvent: (micros - earlier.micros) / events,
      callsPerEvent: (calls - earlier.calls) / events,
    });
  }
  return costs.sort((a, b) => b.microsPerEvent - a.microsPerEvent).slice(0, top);
}
