// A real headless browser for the tests: Debian's chromium, driven over the
// DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages, each
// ended by a NUL byte, written to its fd 3 and read from its fd 4; no port
// is opened). One browser per test file, one tab: a page is loaded as a
// user's browser loads it (its scripts run, its assets are fetched), then
// the test reads what the page shows. The browser may only reach the host
// the page is on: every other name resolves to nothing, and background
// networking (updates, safe browsing, sync) is off.
// https://chromedevtools.github.io/devtools-protocol/
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable, Writable } from "stream";

/** The browser's executable: Debian's chromium (PREPARE_BROWSER=1 scripts/prepare.sh installs it). */
export const CHROMIUM = "chromium";

/** Where chromium is on PATH, or undefined. */
export function findChromium(): string | undefined {
  const r = childProcess.spawnSync("sh", ["-c", `command -v ${CHROMIUM}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** What a page load gave: the HTTP status of the document, its title, and the errors the page raised. */
export interface PageLoad {
  readonly url: string;
  readonly status: number;
  readonly title: string;
  /** Script exceptions, console errors and resources that failed to load, as the browser's console shows them. */
  readonly errors: string[];
  /** From the navigation to the load event (ms). */
  readonly loadMs: number;
}

interface Message {
  id?: number;
  method?: string;
  params?: any;
  result?: any;
  error?: { message: string };
  sessionId?: string;
}

export class Browser {
  private readonly proc: childProcess.ChildProcess;
  private readonly out: Writable;
  private readonly profile: string;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((m: Message) => void)[] = [];
  private session = "";
  private buffer = "";
  private exited?: string;

  /**
   * Starts chromium; `allowHost` is the one host (name or address) the
   * browser may reach; `trustSpki`: the public keys (base64 sha256 of the
   * SPKI, https.ts verifiedSpki) whose certificates it accepts though it
   * does not know their CA (chromium reads no CA file; its own store is NSS).
   */
  private constructor(allowHost: string, trustSpki: readonly string[] = []) {
    const exe = findChromium();
    if (!exe)
      throw new Error(
        `${CHROMIUM} is not installed: run PREPARE_BROWSER=1 scripts/prepare.sh (it installs Debian's chromium)`,
      );
    this.profile = fs.mkdtempSync(path.join(os.tmpdir(), "pp-chromium-"));
    this.proc = childProcess.spawn(
      exe,
      [
        "--headless",
        "--disable-gpu",
        // The tests run as root, where chromium's sandbox cannot start.
        "--no-sandbox",
        "--remote-debugging-pipe",
        `--user-data-dir=${this.profile}`,
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${allowHost}`,
        ...(trustSpki.length ? [`--ignore-certificate-errors-spki-list=${trustSpki.join(",")}`] : []),
        "about:blank",
      ],
      { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    this.proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    this.proc.on("exit", (code, signal) => {
      this.exited = `chromium exited (${code ?? signal}): ${stderr}`;
      for (const p of this.pending.values()) p.reject(new Error(this.exited));
      this.pending.clear();
    });
    this.out = this.proc.stdio[3] as Writable;
    (this.proc.stdio[4] as Readable).on("data", (d: Buffer) => this.receive(d.toString()));
  }

  /** A browser with one tab, allowed to reach `allowHost` only, accepting the keys of `trustSpki` (constructor). */
  static async launch(allowHost: string, trustSpki: readonly string[] = []): Promise<Browser> {
    const b = new Browser(allowHost, trustSpki);
    try {
      const { targetInfos } = await b.send("Target.getTargets");
      const page = (targetInfos as { type: string; targetId: string }[]).find((t) => t.type === "page");
      const targetId = page ? page.targetId : (await b.send("Target.createTarget", { url: "about:blank" })).targetId;
      b.session = (await b.send("Target.attachToTarget", { targetId, flatten: true })).sessionId;
      for (const domain of ["Page", "Network", "Runtime", "Log"]) await b.send(`${domain}.enable`);
    } catch (e) {
      await b.close();
      throw e;
    }
    return b;
  }

  private receive(chunk: string) {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf("\0")) >= 0) {
      const m = JSON.parse(this.buffer.slice(0, end)) as Message;
      this.buffer = this.buffer.slice(end + 1);
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(`DevTools: ${m.error.message}`));
        else p?.resolve(m.result);
      } else {
        for (const l of [...this.listeners]) l(m);
      }
    }
  }

  /** One DevTools command, in the tab's session once attached. */
  send(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<any> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    const message: Message = { id, method, params, ...(this.session ? { sessionId: this.session } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools ${method}: no answer in ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.out.write(JSON.stringify(message) + "\0");
    });
  }

  /** Loads `url` in the tab and waits for its load event: the document's status, its title, and its errors. */
  async load(url: string, timeoutMs = 60_000): Promise<PageLoad> {
    const errors: string[] = [];
    let status = 0;
    let loaderId = "";
    let loaded!: () => void;
    const loadEvent = new Promise<void>((r) => (loaded = r));
    const listener = (m: Message) => {
      if (m.sessionId !== this.session) return;
      const p = m.params;
      switch (m.method) {
        case "Network.responseReceived":
          if (p.type === "Document" && (!loaderId || p.loaderId === loaderId)) status = p.response.status;
          break;
        case "Page.loadEventFired":
          loaded();
          break;
        case "Runtime.exceptionThrown":
          errors.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
          break;
        case "Runtime.consoleAPICalled":
          if (p.type === "error")
            errors.push(`console.error: ${p.args.map((a: any) => a.value ?? a.description).join(" ")}`);
          break;
        case "Log.entryAdded":
          if (p.entry.level === "error") errors.push(`${p.entry.source}: ${p.entry.text} ${p.entry.url ?? ""}`.trim());
          break;
      }
    };
    this.listeners.push(listener);
    const started = Date.now();
    try {
      const nav = await this.send("Page.navigate", { url }, timeoutMs);
      if (nav.errorText) throw new Error(`${url}: ${nav.errorText}`);
      loaderId = nav.loaderId;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        loadEvent,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${url}: no load event in ${timeoutMs / 1000} s`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      const loadMs = Date.now() - started;
      return { url, status, title: await this.evaluate<string>("document.title"), errors, loadMs };
    } finally {
      this.listeners.splice(this.listeners.indexOf(listener), 1);
    }
  }

  /** A JavaScript expression's value in the tab (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails)
      throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Waits until `expression` is truthy in the tab; false when `timeoutMs` passed first. */
  async waitFor(expression: string, timeoutMs: number): Promise<boolean> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`)) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  /** Ends chromium (Browser.close, then SIGKILL if it has not exited within 5 s) and removes its profile. */
  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
      this.out.write(JSON.stringify({ id: this.nextId++, method: "Browser.close" }) + "\0");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      if (!this.exited) {
        this.proc.kill("SIGKILL");
        await exited;
      }
    }
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}
