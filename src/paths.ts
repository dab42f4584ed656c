// Where the installed package's own files are (models/, samples/, build/), whether code runs from src/ or dist/.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}
