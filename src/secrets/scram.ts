// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: the stored
// verifier a role's password is set to, and the client side of the exchange.
// Role passwords reach PostgreSQL only as verifiers, so no statement text
// and no server log can ever hold one in clear.
// https://www.postgresql.org/docs/current/sasl-authentication.html
import * as crypto from "crypto";

/** PostgreSQL's default (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;

const hmac = (key: Buffer, data: string | Buffer) => crypto.createHmac("sha256", key).update(data).digest();
const sha256 = (data: Buffer) => crypto.createHash("sha256").update(data).digest();

export const saltedPassword = (password: string, salt: Buffer, iterations: number): Buffer =>
  crypto.pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");

/**
 * The verifier PostgreSQL stores in pg_authid.rolpassword:
 * SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
 * `salt` is random unless given (tests pin it).
 */
export function scramVerifier(
  password: string,
  salt: Buffer = crypto.randomBytes(16),
  iterations = SCRAM_ITERATIONS,
): string {
  const salted = saltedPassword(password, salt, iterations);
  const storedKey = sha256(hmac(salted, "Client Key"));
  const serverKey = hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/**
 * A verifier that stays the same for the same role and password (its salt is
 * derived from them and `context`), so an unchanged password never re-runs
 * the step that sets it, and a changed one always does.
 */
export function stableScramVerifier(role: string, password: string, context: string): string {
  const salt = crypto
    .createHmac("sha256", password)
    .update(`pulumi-patroni:${context}:${role}`)
    .digest()
    .subarray(0, 16);
  return scramVerifier(password, salt);
}

/** Whether `verifier` is the SCRAM verifier of `password` (same salt and iterations). */
export function verifierMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) return false;
  return scramVerifier(password, Buffer.from(m[2], "base64"), Number(m[1])) === verifier;
}

/** The client side of one SCRAM-SHA-256 exchange, without channel binding. */
export class ScramClient {
  private clientFirstBare = "";
  private expectedServerSignature = "";

  constructor(
    private readonly password: string,
    /** Random unless given (the RFC's test vector pins it). */
    private readonly nonce = crypto.randomBytes(18).toString("base64"),
    private readonly user = "",
  ) {}

  /** client-first-message. */
  first(): string {
    this.clientFirstBare = `n=${this.user},r=${this.nonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  /** client-final-message for the server-first-message. */
  final(serverFirst: string): string {
    const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
    if (!attrs.r?.startsWith(this.nonce)) throw new Error("SCRAM: server nonce does not extend ours");
    const salted = saltedPassword(this.password, Buffer.from(attrs.s, "base64"), Number(attrs.i));
    const clientKey = hmac(salted, "Client Key");
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(sha256(clientKey), authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    this.expectedServerSignature = hmac(hmac(salted, "Server Key"), authMessage).toString("base64");
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Checks the server-final-message: the server knew the verifier too. */
  verify(serverFinal: string): void {
    if (serverFinal !== `v=${this.expectedServerSignature}`)
      throw new Error("SCRAM: the server's signature does not match");
  }
}
