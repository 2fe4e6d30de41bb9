// What the page has and the `jsc` shell lacks, enough for automerge and automerge-repo to run in it.
const g = globalThis as Record<string, unknown>;

if (typeof g.TextEncoder === "undefined") {
  g.TextEncoder = class {
    encoding = "utf-8";
    encode(text = ""): Uint8Array {
      const utf8 = unescape(encodeURIComponent(text));
      const out = new Uint8Array(utf8.length);
      for (let i = 0; i < utf8.length; i++) out[i] = utf8.charCodeAt(i);
      return out;
    }
    encodeInto(text: string, into: Uint8Array) {
      const bytes = this.encode(text);
      into.set(bytes.subarray(0, into.length));
      return { read: text.length, written: Math.min(bytes.length, into.length) };
    }
  };
}
if (typeof g.TextDecoder === "undefined") {
  g.TextDecoder = class {
    encoding = "utf-8";
    decode(bytes?: ArrayBufferView | ArrayBuffer): string {
      if (!bytes) return "";
      const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let binary = "";
      for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
      return decodeURIComponent(escape(binary));
    }
  };
}
if (typeof g.queueMicrotask === "undefined") g.queueMicrotask = (f: () => void) => void Promise.resolve().then(f);
if (typeof g.crypto === "undefined") {
  g.crypto = {
    getRandomValues<T extends ArrayBufferView>(array: T): T {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
      return array;
    },
  };
}
if (typeof g.console === "undefined" || typeof (g.console as { log?: unknown }).log !== "function") {
  const print = g.print as (...a: unknown[]) => void;
  g.console = { log: print, warn: print, error: print, info: print, debug: () => {} };
}
if (typeof g.DOMException === "undefined") {
  g.DOMException = class DOMException extends Error {
    constructor(message?: string, name?: string) {
      super(message);
      this.name = name ?? "Error";
    }
  };
}
if (typeof g.clearTimeout === "undefined") {
  // The shell's timers cannot be cancelled: a cancelled callback is skipped when it comes due.
  const start = g.setTimeout as (f: () => void, ms?: number) => unknown;
  const cancelled = new Set<number>();
  let next = 1;
  g.setTimeout = (f: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const id = next++;
    start(() => {
      if (!cancelled.delete(id)) f(...args);
    }, ms);
    return id;
  };
  g.clearTimeout = (id: number) => void cancelled.add(id);
  g.setInterval = () => 0;
  g.clearInterval = () => {};
}
