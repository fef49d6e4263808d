// A minimal PostgreSQL client (protocol 3, simple queries, SCRAM-SHA-256,
// TLS after an SSLRequest as libpq negotiates it) for the fault harness: it
// must tell apart "committed", "failed" and "connection lost, outcome
// unknown", and never hang past its deadline.
// https://www.postgresql.org/docs/current/protocol-flow.html
import * as net from "net";
import * as tls from "tls";
import { ScramClient } from "../../src/secrets/scram";

/**
 * libpq's sslmode, as far as the harness needs it: disable; prefer (TLS
 * when the server offers it, unverified); require (TLS, unverified);
 * verify-full (TLS, the server's certificate checked against `ca` and its
 * name against the host dialled).
 */
export interface SslOptions {
  readonly mode: "disable" | "prefer" | "require" | "verify-full";
  /** The CAs to verify against (PEM), for verify-full. */
  readonly ca?: string;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly timeoutMs?: number;
  readonly applicationName?: string;
  readonly ssl?: SslOptions;
}

export class PgError extends Error {
  constructor(
    readonly fields: Record<string, string>,
    /** The connection is gone (FATAL, or the socket closed). */
    readonly connectionLost: boolean,
  ) {
    super(`${fields.S ?? "ERROR"} ${fields.C ?? ""}: ${fields.M ?? "connection lost"}`);
  }
}

/** The connection broke before an answer: the statement may or may not have committed. */
export class ConnectionLost extends Error {}

interface Message {
  readonly type: string;
  readonly body: Buffer;
}

export class PgConnection {
  private buffer = Buffer.alloc(0);
  private waiters: ((m: Message | Error) => void)[] = [];
  private queue: (Message | Error)[] = [];
  private closed = false;
  /** The server parameters reported at login (ParameterStatus): what libpq's target_session_attrs reads. */
  readonly parameters: Record<string, string> = {};

  /** Whether the session is encrypted (TLS negotiated). */
  readonly encrypted: boolean;

  private constructor(private readonly socket: net.Socket) {
    this.encrypted = socket instanceof tls.TLSSocket;
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 5) {
        const len = this.buffer.readUInt32BE(1);
        if (this.buffer.length < 1 + len) break;
        this.push({ type: String.fromCharCode(this.buffer[0]), body: this.buffer.subarray(5, 1 + len) });
        this.buffer = this.buffer.subarray(1 + len);
      }
    });
    const gone = (e?: Error) => {
      if (this.closed) return;
      this.closed = true;
      this.push(new ConnectionLost(e?.message ?? "connection closed"));
    };
    socket.on("error", gone);
    socket.on("close", () => gone());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private push(m: Message | Error) {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  private next(deadline: number): Promise<Message> {
    const queued = this.queue.shift();
    if (queued) return queued instanceof Error ? Promise.reject(queued) : Promise.resolve(queued);
    if (this.closed) return Promise.reject(new ConnectionLost("connection closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          this.destroy();
          reject(new ConnectionLost("timed out waiting for the server"));
        },
        Math.max(1, deadline - Date.now()),
      );
      const waiter = (m: Message | Error) => {
        clearTimeout(timer);
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
      this.waiters.push(waiter);
    });
  }

  private send(type: string, body: Buffer) {
    const header = Buffer.alloc(type ? 5 : 4);
    if (type) header.write(type, 0);
    header.writeUInt32BE(body.length + 4, type ? 1 : 0);
    this.socket.write(Buffer.concat([header, body]));
  }

  static async connect(o: ConnectOptions): Promise<PgConnection> {
    const deadline = Date.now() + (o.timeoutMs ?? 3000);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: o.host, port: o.port });
      const timer = setTimeout(
        () => {
          s.destroy();
          reject(new ConnectionLost(`connect to ${o.host}:${o.port} timed out`));
        },
        Math.max(1, deadline - Date.now()),
      );
      s.once("connect", () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        resolve(s);
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(new ConnectionLost(`connect to ${o.host}:${o.port}: ${e.message}`));
      });
    });
    let session: net.Socket;
    try {
      session = await negotiateTls(socket, o, deadline);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    const c = new PgConnection(session);
    try {
      await c.startup(o, deadline);
    } catch (e) {
      c.destroy();
      throw e;
    }
    return c;
  }

  private async startup(o: ConnectOptions, deadline: number) {
    const params = [
      "user",
      o.user,
      "database",
      o.database,
      "application_name",
      o.applicationName ?? "pulumi-patroni-harness",
    ];
    const version = Buffer.alloc(4);
    version.writeUInt32BE(196608);
    this.send("", Buffer.concat([version, Buffer.from(params.join("\0") + "\0\0")]));
    let scram: ScramClient | undefined;
    for (;;) {
      const m = await this.next(deadline);
      if (m.type === "E") throw new PgError(errorFields(m.body), true);
      if (m.type === "Z") return;
      if (m.type === "S") {
        const [name, value] = m.body.toString("utf8").split("\0");
        this.parameters[name] = value;
        continue;
      }
      if (m.type !== "R") continue;
      const code = m.body.readUInt32BE(0);
      if (code === 0) continue;
      if (code === 10) {
        scram = new ScramClient(o.password);
        const first = Buffer.from(scram.first());
        const mech = Buffer.from("SCRAM-SHA-256\0");
        const len = Buffer.alloc(4);
        len.writeInt32BE(first.length);
        this.send("p", Buffer.concat([mech, len, first]));
      } else if (code === 11) {
        this.send("p", Buffer.from(scram!.final(m.body.subarray(4).toString())));
      } else if (code === 12) {
        scram!.verify(m.body.subarray(4).toString());
      } else if (code === 3) {
        this.send("p", Buffer.from(o.password + "\0"));
      } else {
        throw new Error(`unsupported authentication request ${code}`);
      }
    }
  }

  /** Runs one simple query; returns the rows (text values) of its last result. */
  async query(sql: string, timeoutMs = 5000): Promise<(string | null)[][]> {
    const deadline = Date.now() + timeoutMs;
    this.send("Q", Buffer.from(sql + "\0"));
    let rows: (string | null)[][] = [];
    let error: PgError | undefined;
    for (;;) {
      const m = await this.next(deadline);
      switch (m.type) {
        case "T":
          rows = [];
          break;
        case "D": {
          const n = m.body.readUInt16BE(0);
          const row: (string | null)[] = [];
          let off = 2;
          for (let i = 0; i < n; i++) {
            const len = m.body.readInt32BE(off);
            off += 4;
            if (len < 0) row.push(null);
            else {
              row.push(m.body.subarray(off, off + len).toString());
              off += len;
            }
          }
          rows.push(row);
          break;
        }
        case "E": {
          const fields = errorFields(m.body);
          error = new PgError(fields, fields.S === "FATAL" || fields.S === "PANIC");
          if (error.connectionLost) {
            this.destroy();
            throw error;
          }
          break;
        }
        case "Z":
          if (error) throw error;
          return rows;
      }
    }
  }

  destroy() {
    this.closed = true;
    this.socket.destroy();
  }

  async close() {
    if (!this.closed) {
      this.send("X", Buffer.alloc(0));
      this.socket.end();
    }
    this.destroy();
  }
}

function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const code = String.fromCharCode(body[off]);
    const end = body.indexOf(0, off + 1);
    fields[code] = body.subarray(off + 1, end).toString();
    off = end + 1;
  }
  return fields;
}

/** Waits for one event of `socket` (or its error, or the deadline). */
function once<T>(socket: net.Socket, event: string, deadline: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new ConnectionLost(`${what} timed out`)), Math.max(1, deadline - Date.now()));
    const onEvent = (v: T) => done(undefined, v);
    const onError = (e: Error) => done(new ConnectionLost(`${what}: ${e.message}`));
    const onClose = () => done(new ConnectionLost(`${what}: connection closed`));
    const done = (e?: Error, v?: T) => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (e) reject(e);
      else resolve(v as T);
    };
    socket.once(event, onEvent);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}

/** SSLRequest, then TLS if the server says S (and the mode wants it). */
async function negotiateTls(socket: net.Socket, o: ConnectOptions, deadline: number): Promise<net.Socket> {
  const mode = o.ssl?.mode ?? "disable";
  if (mode === "disable") return socket;
  const request = Buffer.alloc(8);
  request.writeUInt32BE(8, 0);
  request.writeUInt32BE(80877103, 4);
  const answer = once<Buffer>(socket, "data", deadline, `TLS request to ${o.host}:${o.port}`);
  socket.write(request);
  const byte = String.fromCharCode((await answer)[0]);
  if (byte === "N") {
    if (mode === "prefer") return socket;
    throw new ConnectionLost(`${o.host}:${o.port} does not offer TLS (sslmode ${mode})`);
  }
  if (byte !== "S") throw new ConnectionLost(`${o.host}:${o.port} answered ${JSON.stringify(byte)} to the TLS request`);
  const verify = mode === "verify-full";
  const secure = tls.connect({
    socket,
    ca: o.ssl?.ca,
    rejectUnauthorized: verify,
    // verify-full: the name (or address) dialled must be in the certificate, as libpq checks it.
    checkServerIdentity: verify ? (_name, cert) => tls.checkServerIdentity(o.host, cert) : () => undefined,
    servername: net.isIP(o.host) ? undefined : o.host,
  });
  await once(secure, "secureConnect", deadline, `TLS handshake with ${o.host}:${o.port}`);
  return secure;
}
