// HTTP(S) from the controller to the stand as a verifying client: the REST
// API, etcd and HAProxy's stats page want the cluster's CA trusted and (the
// REST API and etcd) a client certificate of it, the controller's. Node's
// fetch cannot take a CA or a client certificate without undici's Agent, so
// this is node's own http/https.
import * as crypto from "crypto";
import * as http from "http";
import * as https from "https";
import * as tls from "tls";

/** How the controller speaks TLS to the stand (the stack's outputs: tlsCaCertificate, tlsClientCertificate/Key). */
export interface TlsClient {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly text: string;
}

export interface HttpOptions {
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
  /** For https URLs: whom to trust and what certificate to show. */
  readonly tls?: TlsClient;
}

/** One request; rejects on a network or TLS error or the timeout, resolves with any status. */
export function httpRequest(url: string, o: HttpOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const secure = u.protocol === "https:";
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      u,
      {
        method: o.method ?? "GET",
        headers: o.headers,
        timeout: o.timeoutMs ?? 2000,
        ...(secure ? { ca: o.tls?.ca, cert: o.tls?.cert, key: o.tls?.key, rejectUnauthorized: true } : {}),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url}: timed out`)));
    req.on("error", reject);
    req.end(o.body);
  });
}

/** GET `url` and parse JSON (any status: Patroni answers 503 with a body that still says what it is). */
export async function getJson<T>(url: string, o: HttpOptions = {}): Promise<T> {
  return JSON.parse((await httpRequest(url, o)).text) as T;
}

/**
 * The base64 sha256 of the public key (SPKI) of the certificate `url`'s
 * server presents, once verified against `trust.ca` and the URL's host (what
 * chromium's --ignore-certificate-errors-spki-list takes: the browser then
 * accepts that key only, the one this verified connection saw).
 */
export function verifiedSpki(url: string, trust: TlsClient, timeoutMs = 5000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: u.hostname,
      port: Number(u.port || 443),
      ca: trust.ca,
      // An address: no SNI (Node refuses one), the address checked against the certificate's IP SANs.
      servername: /^[0-9.]+$/.test(u.hostname) ? "" : u.hostname,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(u.hostname, cert),
      rejectUnauthorized: true,
      timeout: timeoutMs,
    });
    socket.on("secureConnect", () => {
      const spki = socket.getPeerX509Certificate()!.publicKey.export({ type: "spki", format: "der" });
      socket.end();
      resolve(crypto.createHash("sha256").update(spki).digest("base64"));
    });
    socket.on("timeout", () => socket.destroy(new Error(`${url}: timed out`)));
    socket.on("error", reject);
  });
}
