// Fixtures read from ../shared/fixtures (not ours to copy into the repo). Absent in a user's clone: those tests
// skip. In CI (CI set) an absent fixture is a failure, so that a broken checkout cannot pass by skipping.
import fs from 'node:fs';

export interface FixtureState {
  /** For the test's `skip` option: false when the file is there. */
  skip: string | false;
  /** Set when the test must fail instead (CI and the file absent). */
  fail?: string;
}

export function sharedFixture(file: string, env: NodeJS.ProcessEnv = process.env): FixtureState {
  if (fs.existsSync(file)) return { skip: false };
  if (env.CI) return { skip: `fixture ${file} absent`, fail: `fixture ${file} is missing and CI is set: check out ../shared next to the repo` };
  return { skip: `fixture ${file} absent (shared/fixtures is not part of the repo)` };
}
