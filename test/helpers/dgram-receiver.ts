// A real AF_UNIX datagram socket to receive sd_notify messages on (Node has none): a small python3 process binds
// the address ('@name' = abstract namespace, as systemd's NOTIFY_SOCKET may be) and prints each datagram as JSON.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

const PY = String.raw`
import json, os, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
print("READY", flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
`;

export interface DgramReceiver {
  address: string;
  messages: string[];
  /** Resolves once pred holds for the messages so far (checked on each datagram), rejects after timeoutMs. */
  waitFor(pred: (m: string[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function dgramReceiver(address: string): Promise<DgramReceiver> {
  const child: ChildProcess = spawn('python3', ['-c', PY, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  const rl = readline.createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('datagram receiver did not start within 20 s')), 20_000);
    child.once('exit', (c) => reject(new Error(`datagram receiver exited (${c})`)));
    rl.once('line', (l) => {
      clearTimeout(t);
      if (l === 'READY') resolve();
      else reject(new Error(`datagram receiver: ${l}`));
    });
  });
  rl.on('line', (l) => {
    messages.push(JSON.parse(l) as string);
    for (const w of [...waiters]) w();
  });
  return {
    address,
    messages,
    waitFor(pred, timeoutMs = 30_000) {
      if (pred(messages)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!pred(messages)) return;
          waiters.delete(check);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching datagram within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill();
        await gone;
      }
    },
  };
}
