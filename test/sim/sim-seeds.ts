// Which seeds a simulation test runs, and how its failures name them. Every run is a pure
// function of its seed, so the seed is all a failure needs to say: SIM_SEED=<seed> runs that
// seed alone (in every test of the file), SIM_SEEDS=<count> changes how many run per test.

/** Runs per test, from each test's base seed up. */
export const SIM_SEEDS = Number(process.env.SIM_SEEDS ?? 40);

/** The one seed SIM_SEED asks for, or undefined for the usual SIM_SEEDS runs. */
export const SIM_ONLY =
  process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

/** The seeds a test with base seed `base` runs. */
export function simSeeds(base: number): number[] {
  return SIM_ONLY !== undefined
    ? [SIM_ONLY]
    : Array.from({ length: SIM_SEEDS }, (_, i) => base + i);
}

/** Vitest's default per-test timeout; a sweep of many seeds needs more. */
const TEST_TIMEOUT_MS_MIN = 60_000;

/**
 * A timeout for a test that runs every seed, each taking up to `perRunMs` (allow for a busy
 * machine): SIM_SEEDS=300 must not fail for the time it takes.
 */
export function seedsTimeoutMs(perRunMs: number): number {
  return Math.max(TEST_TIMEOUT_MS_MIN, (SIM_ONLY === undefined ? SIM_SEEDS : 1) * perRunMs);
}

/** How to run one seed again: `SIM_SEED=42`. */
export const replayOne = (seed: number): string => `SIM_SEED=${seed}`;

/**
 * For checks over all the runs of a test: which seeds those were and how to run them again, e.g.
 * `seeds 3000..3039 (SIM_SEEDS=40 from base seed 3000; one alone: SIM_SEED=<seed>)`.
 */
export function replayAll(base: number): string {
  const seeds = simSeeds(base);
  const range = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds[0]}..${seeds.at(-1)}`;
  return `${range} (SIM_SEEDS=${seeds.length} from base seed ${base}; one alone: SIM_SEED=<seed>)`;
}

/**
 * Runs `run` for each seed of the test, in order. Whatever a run throws (a failed expectation,
 * a deadlock, a bug's TypeError) leaves with the seed that replays it in its message.
 */
export async function forEachSeed(
  base: number,
  run: (seed: number) => Promise<void>,
): Promise<void> {
  for (const seed of simSeeds(base)) {
    // SIM_PROGRESS=1 names each seed as it starts: a sweep that hangs says where.
    if (process.env.SIM_PROGRESS !== undefined) console.log(`seed ${seed}`);
    try {
      await run(seed);
    } catch (err) {
      throw withSeed(err, seed);
    }
  }
}

function withSeed(err: unknown, seed: number): unknown {
  const tag = replayOne(seed);
  if (!(err instanceof Error)) return new Error(`seed ${seed} (${tag} replays it): ${String(err)}`);
  if (!err.message.includes(tag)) err.message = `seed ${seed} (${tag} replays it): ${err.message}`;
  return err;
}
