// The value shapes several parts of the configuration share (host names,
// addresses, ports), so every slice validates them the same way.
import { z } from "zod";

export const hostname = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    "must be a lower-case hostname label: a-z, 0-9 and '-', 1 to 63 characters",
  );

const ipv4Octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${ipv4Octet}(\\.${ipv4Octet}){3}$`);
export const ipv4 = z.string().regex(IPV4, "must be an IPv4 address like 10.0.0.11");
export const ipv4Cidr = z.string().refine((v) => {
  const [addr, bits, ...rest] = v.split("/");
  return rest.length === 0 && IPV4.test(addr) && bits !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}, "must be an IPv4 CIDR like 10.0.0.0/24");

export const port = z.number().int().min(1).max(65535);
export const positiveInt = z.number().int().positive();

/** A control character would end the line of the file a value goes into. */
export const hasControlCharacter = (s: string): boolean =>
  [...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
