/**
 * The local stack is reachable from this machine only: the gateway, DynamoDB
 * Local and fauxqs listen on the loopback address, so nobody on the same
 * network can read the tables (which hold phone numbers and emails) with
 * dummy credentials.
 *
 * Two checks. The first always runs on Linux: it reads the kernel's socket
 * tables (/proc/net/tcp, tcp6) for every listening socket the stack's
 * processes own (the Node process and the Java process of DynamoDB Local)
 * and requires each to be bound to a loopback address. The second connects
 * to each port through every non-loopback address of this machine and
 * expects the connection to be refused; a machine without such an address
 * reports that case as skipped, with the reason in its name.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { childProcesses, startStack, type PrivateStack } from './support';

jest.setTimeout(120_000);

interface Listener {
  readonly address: string;
  readonly port: number;
  readonly inode: string;
}

/** `0100007F` → 127.0.0.1; 32 hex digits → an IPv6 address (the kernel writes each 32-bit word in host byte order). */
function decodeAddress(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) => (word.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

function isLoopback(address: string): boolean {
  return /^127\./.test(address) || /^::ffff:127\./.test(address) || address === '0:0:0:0:0:0:0:1';
}

/** Listening TCP sockets of the whole machine, from the kernel's tables. */
function listeningSockets(): Listener[] {
  const sockets: Listener[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields; // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (state !== '0A' || !local || !inode) continue; // 0A: LISTEN
      const [address, port] = local.split(':');
      sockets.push({ address: decodeAddress(address!), port: parseInt(port!, 16), inode });
    }
  }
  return sockets;
}

/** Socket inodes held open by a process. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/** Whether a TCP connection to host:port is accepted, refused, or neither within the timeout. */
function tryConnect(host: string, port: number): Promise<'connected' | 'refused' | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : (error.code ?? error.message)));
  });
}

/** Every address of this machine that is not a loopback address (IPv6 link-local ones with their interface). */
function nonLoopbackAddresses(): string[] {
  return Object.entries(networkInterfaces()).flatMap(([name, infos]) =>
    (infos ?? [])
      .filter((info) => !info.internal)
      .map((info) => (info.family === 'IPv6' && info.address.startsWith('fe80:') ? `${info.address}%${name}` : info.address)),
  );
}

let stack: PrivateStack;
let ports: { gateway: number; dynamodb: number; sqsSns: number };

beforeAll(async () => {
  stack = await startStack();
  const { endpoints } = await stack.health();
  ports = { gateway: Number(new URL(stack.url).port), dynamodb: Number(new URL(endpoints.dynamodb).port), sqsSns: Number(new URL(endpoints.sqs).port) };
});
afterAll(() => stack?.stop());

const onLinux = process.platform === 'linux';

(onLinux ? it : it.skip)('binds every listening socket of the stack (Node and Java) to a loopback address', () => {
  const pids = [stack.pid, ...childProcesses(stack.pid).map((child) => child.pid)];
  const owned = new Set(pids.flatMap((pid) => [...socketInodes(pid)]));
  const listeners = listeningSockets().filter((socket) => owned.has(socket.inode));

  // Not vacuous: the gateway's and both emulators' ports are among them.
  expect(listeners.map((l) => l.port)).toEqual(expect.arrayContaining([ports.gateway, ports.dynamodb, ports.sqsSns]));
  expect(listeners.filter((l) => !isLoopback(l.address))).toEqual([]);
});

it('accepts connections on 127.0.0.1 (so the refusals below mean something)', async () => {
  for (const port of Object.values(ports)) expect(await tryConnect('127.0.0.1', port)).toBe('connected');
});

const addresses = nonLoopbackAddresses();
const refusalCase =
  addresses.length > 0
    ? `refuses connections to the gateway and both emulators through this machine's other addresses (${addresses.join(', ')})`
    : 'refuses connections through non-loopback addresses (not run: this machine has no network interface other than loopback)';
(addresses.length > 0 ? it : it.skip)(refusalCase, async () => {
  const outcomes: string[] = [];
  for (const address of addresses) {
    for (const [name, port] of Object.entries(ports)) outcomes.push(`${name} via ${address}: ${await tryConnect(address, port)}`);
  }
  expect(outcomes.filter((outcome) => !outcome.endsWith(': refused'))).toEqual([]);
});
