/**
 * A lean HTTP/1.1 load generator for `dojang bench`: keep-alive connections over
 * node:net, one request in flight per connection (no pipelining), responses framed by
 * Content-Length. It exists because the bench's goal counts the load generator on the
 * same two cores as the server: node:http's client costs about as much CPU per request
 * as the server's whole write path, which would measure the client, not the ledger.
 * It talks to our own server only; anything it does not expect is an error.
 */
import * as net from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

/** LoadConnection is one keep-alive connection that POSTs bodies to one path. */
export class LoadConnection {
  private readonly socket: net.Socket;
  private readonly head: string;
  private readonly host: string;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve(status: number): void; reject(e: Error): void } | undefined;
  private failure: Error | undefined;

  private constructor(socket: net.Socket, host: string, path: string, contentType: string) {
    this.socket = socket;
    this.host = host;
    this.head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\nContent-Type: ${contentType}\r\nContent-Length: `;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  /** open connects to `base` (http://host:port) for POSTs of `contentType` to `path`. */
  static open(base: string, path: string, contentType: string): Promise<LoadConnection> {
    const u = new URL(base);
    if (u.protocol !== 'http:') throw new RangeError(`load generator speaks plain http only, not ${u.protocol}`);
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port || 80) }, () => {
        s.off('error', reject);
        resolve(new LoadConnection(s, u.host, path, contentType));
      });
      s.once('error', reject);
    });
  }

  /** post sends one body and resolves with the response's status code (the body is read and dropped). */
  post(body: Uint8Array): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.waiting !== undefined) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.cork();
      this.socket.write(`${this.head}${body.length}\r\n\r\n`);
      this.socket.write(body);
      this.socket.uncork();
    });
  }

  /** get sends GET `path` and resolves with the response's status code (the body is read and dropped). */
  get(path: string): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.waiting !== undefined) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  close(): void {
    this.failure ??= new Error('connection closed');
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const end = this.buf.indexOf(CRLF2);
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (m === null || len === null) {
      this.fail(new Error(`unexpected response head: ${JSON.stringify(head.slice(0, 200))}`));
      return;
    }
    const total = end + 4 + Number(len[1]);
    if (this.buf.length < total) return;
    if (this.buf.length > total) {
      this.fail(new Error('response data beyond the answer to the one request in flight'));
      return;
    }
    this.buf = Buffer.alloc(0);
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve(Number(m[1]));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.failure);
    this.socket.destroy();
  }
}

/**
 * LoadPool spreads posts over keep-alive connections: an idle one takes the post, else
 * it waits in order for the next one freed (an open loop counts that wait as latency).
 */
export class LoadPool {
  private readonly idle: LoadConnection[];
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(readonly conns: readonly LoadConnection[]) {
    this.idle = [...conns];
  }

  static async open(base: string, path: string, contentType: string, n: number): Promise<LoadPool> {
    return new LoadPool(await Promise.all(Array.from({ length: n }, () => LoadConnection.open(base, path, contentType))));
  }

  async post(body: Uint8Array): Promise<number> {
    let c = this.idle.pop();
    while (c === undefined) {
      await new Promise<void>((r) => this.waiting.push(r));
      c = this.idle.pop();
    }
    try {
      return await c.post(body);
    } finally {
      this.idle.push(c);
      if (this.head < this.waiting.length) {
        const w = this.waiting[this.head];
        this.waiting[this.head++] = undefined as unknown as () => void;
        if (this.head > 1024 && this.head * 2 > this.waiting.length) {
          this.waiting.splice(0, this.head);
          this.head = 0;
        }
        w();
      }
    }
  }

  close(): void {
    for (const c of this.conns) c.close();
  }
}
