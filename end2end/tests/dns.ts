// A DNS server for the tests that prove e-mail domains (end2end/dns/dns.mjs): TXT records
// from a file this helper rewrites.
import { spawn, ChildProcess } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server';

export class Dns {
  private readonly records: Record<string, string[]> = {};

  private constructor(
    private readonly child: ChildProcess,
    /** `127.0.0.1:port`, for DEVPULSE_DNS_SERVER. */
    readonly addr: string,
    private readonly file: string,
  ) {}

  static async start(): Promise<Dns> {
    const port = await freePort();
    const file = path.join(os.tmpdir(), `devpulse-e2e-dns-${port}.json`);
    writeFileSync(file, '{}');
    const child = spawn('node', [path.resolve(__dirname, '..', 'dns', 'dns.mjs')], {
      env: { ...process.env, PORT: String(port), RECORDS: file },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((ready, fail) => {
      child.stdout!.on('data', (d) => String(d).includes('READY') && ready());
      child.on('exit', (code) => fail(new Error(`the DNS server exited (${code})`)));
    });
    return new Dns(child, `127.0.0.1:${port}`, file);
  }

  /** Publishes the TXT records at `name`. */
  set(name: string, values: string[]) {
    this.records[name] = values;
    writeFileSync(this.file, JSON.stringify(this.records));
  }

  stop() {
    this.child.kill();
    rmSync(this.file, { force: true });
  }
}
