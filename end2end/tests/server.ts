// Starts the real devpulse binary (built by `cargo leptos build`) with its embedded database,
// on a fixed free port so that a restart comes back at the same address.
import { spawn, ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export class DevpulseServer {
  private proc?: ChildProcess;
  /** `env` adds to (or overrides) the test defaults, e.g. `{ DEVPULSE_DEMO_LIVE: '1' }`. */
  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly env: Record<string, string> = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env.DEVPULSE_SERVER_BIN;
    if (!bin) throw new Error('DEVPULSE_SERVER_BIN is not set (run through `make test`)');
    mkdirSync(this.dataDir, { recursive: true });
    const proc = spawn(bin, ['serve'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: '',
        PORT: String(this.port),
        DEVPULSE_DATA_DIR: this.dataDir,
        DEVPULSE_SITE_ROOT: path.join(root, 'target', 'site'),
        RUST_LOG: 'warn',
        // The demo super admin's password is generated unless chosen; the tests choose it.
        DEVPULSE_DEMO_SUPERADMIN_PASSWORD: 'demo-superadmin-pass',
        // The demo's developers stay still unless a test wants them at work: pages that
        // refetch on every update would make the other tests' pages move under them.
        DEVPULSE_DEMO_LIVE: '0',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start in 90s')), 90_000);
      proc.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('devpulse listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening`));
      });
    });
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
    this.proc = undefined;
  }
}
