// Throwaway authoritative DNS server for devpulse's domain-proof tests: it answers TXT
// questions from a JSON file read on every question, so a test changes the records by
// rewriting the file. Usage: PORT=5353 RECORDS=/tmp/records.json node end2end/dns/dns.mjs
// The file holds {"name": ["txt value", ...]}; names without the trailing dot, any case.
// Prints READY on stdout once listening (UDP and TCP on 127.0.0.1); the rest goes to stderr.

import { readFileSync } from 'node:fs';
import dns2 from 'dns2';

const { Packet } = dns2;
const port = Number(process.env.PORT);
const file = process.env.RECORDS;
if (!port || !file) throw new Error('PORT and RECORDS env vars are required');

function records() {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  } catch {
    return {};
  }
}

const server = dns2.createServer({
  udp: true,
  tcp: true,
  handle: (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const values = records()[name];
    if (question.type === Packet.TYPE.TXT && values) {
      for (const data of values) {
        response.answers.push({ name: question.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data });
      }
    } else if (!values) {
      response.header.rcode = 3; // NXDOMAIN
    }
    send(response);
  },
});
server.on('requestError', (e) => console.error(e));
server.listen({ udp: { port, address: '127.0.0.1' }, tcp: { port, address: '127.0.0.1' } }).then(() => {
  process.stdout.write('READY\n');
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
