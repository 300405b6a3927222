// Which hosts forward mode reaches (absolute-form requests and CONNECT). A listed Connector's own addresses
// (spec.address, addressExtensions) are chosen by its administrator and are reached wherever they point. Any
// other host is refused unless the operator allows it (`forwardAllowHosts`), and even then never when the
// connection would go to loopback, link-local (169.254/16, fe80::/10, where cloud metadata services live), the
// unspecified address (which reaches the local host) or the proxy's own listening ports. That last check is
// made on the resolved address, when connecting: a name that resolves to 127.0.0.1 is refused too.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';
import { connectorAddresses, type AddressedConnector } from '../../core/connector/index.ts';
import { TARGET_REFUSED } from '../../core/http1/errors.ts';

export { TARGET_REFUSED };

/** Hosts the operator lets forward mode reach besides the Connectors' own: `*`, `name`, `*.domain`, an IP or a CIDR. */
export class HostAllowList {
  private readonly any: boolean;
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly nets = new BlockList();
  private hasNets = false;

  /** Throws on an entry that is none of the forms above. */
  constructor(patterns: readonly string[]) {
    this.any = false;
    for (const raw of patterns) {
      const p = raw.trim().toLowerCase();
      if (p === '') continue;
      if (p === '*') {
        this.any = true;
        continue;
      }
      const slash = p.indexOf('/');
      if (slash !== -1) {
        const ip = p.slice(0, slash);
        const bits = Number(p.slice(slash + 1));
        const family = isIP(ip);
        if (!family || !/^\d{1,3}$/.test(p.slice(slash + 1)) || bits > (family === 4 ? 32 : 128))
          throw new Error(`forward allow-list entry ${JSON.stringify(raw)} is not a valid CIDR`);
        this.nets.addSubnet(ip, bits, family === 4 ? 'ipv4' : 'ipv6');
        this.hasNets = true;
        continue;
      }
      const host = p.startsWith('[') && p.endsWith(']') ? p.slice(1, -1) : p;
      if (host.startsWith('*.') && HOST_NAME.test(host.slice(2))) this.suffixes.push(host.slice(1));
      else if (isIP(host) || HOST_NAME.test(host)) this.names.add(host);
      else
        throw new Error(
          `forward allow-list entry ${JSON.stringify(raw)} must be *, a host name, *.domain, an IP address or a CIDR`,
        );
    }
  }

  /** Whether `hostname` (lower case, IPv6 without brackets) is allowed. Pure. */
  allows(hostname: string): boolean {
    if (this.any || this.names.has(hostname)) return true;
    for (const s of this.suffixes) if (hostname.endsWith(s)) return true;
    const family = isIP(hostname);
    return this.hasNets && family !== 0 && this.nets.check(hostname, family === 4 ? 'ipv4' : 'ipv6');
  }

  get empty(): boolean {
    return !this.any && this.names.size === 0 && this.suffixes.length === 0 && !this.hasNets;
  }
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/** Loopback, link-local and unspecified addresses, IPv4-mapped ones included (BlockList checks those as IPv4). */
function neverReached(): BlockList {
  const b = new BlockList();
  b.addSubnet('127.0.0.0', 8, 'ipv4');
  b.addSubnet('0.0.0.0', 8, 'ipv4');
  b.addSubnet('169.254.0.0', 16, 'ipv4');
  b.addSubnet('::', 96, 'ipv6'); // ::, ::1 and the IPv4-compatible form of the above
  b.addSubnet('fe80::', 10, 'ipv6');
  return b;
}

/** The addresses forward mode may connect to for a host that is not a Connector's. */
export class AddressGuard {
  private readonly never = neverReached();
  private readonly own: Set<string>;
  private readonly ownPorts: () => readonly number[];

  /**
   * `ownPorts`: the ports the proxy listens on (asked at each check: known once listening). `ownAddresses`: this
   * host's interface addresses (default: os.networkInterfaces()).
   */
  constructor(ownPorts: () => readonly number[], ownAddresses?: readonly string[]) {
    this.ownPorts = ownPorts;
    this.own = new Set(
      (ownAddresses ?? Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address))).map(
        normalizeIp,
      ),
    );
  }

  /** Why a connection to `address`:`port` is refused, or undefined when it is allowed. Pure but for the clock-free state above. */
  refusal(address: string, port: number): string | undefined {
    const ip = normalizeIp(address);
    const family = isIP(ip);
    if (family === 0) return `${address} is not an IP address`;
    if (this.never.check(ip, family === 4 ? 'ipv4' : 'ipv6')) {
      const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
      return /^(169\.254\.|fe[89ab])/.test(v4) ? 'a link-local address' : 'a loopback or unspecified address';
    }
    if (this.own.has(ip) && this.ownPorts().includes(port)) return 'this proxy';
    return undefined;
  }

  /** A `lookup` for net.connect/tls.connect to `port`: resolves, then fails with ETARGETREFUSED if any address is refused. */
  lookupFor(port: number): LookupFunction {
    return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
        if (err) return callback(err, options.all ? [] : '', 4);
        for (const a of addresses) {
          const why = this.refusal(a.address, port);
          if (why) return callback(refused(hostname, `it resolves to ${a.address}, ${why}`), options.all ? [] : '', 4);
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      });
    };
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The error of a refused connection (its message names the host and why, never a credential). */
export function refused(host: string, why: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`forward mode does not connect to ${host}: ${why}`), { code: TARGET_REFUSED });
}

/** `[::1]` → `::1`, IPv6 in lower case. */
function normalizeIp(address: string): string {
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return a.toLowerCase();
}

export type TargetDecision = { allowed: true; guarded: boolean } | { allowed: false; status: 403; reason: string };

/**
 * Whether forward mode takes a request (or CONNECT) for `hostname`:`port`. `connectorHost`: the host and port are
 * those of a listed Connector's address (then nothing else is checked, and no guard is needed). Otherwise the
 * host must be allowed, and an IP literal must pass the address guard now (a name passes it when connecting:
 * `guarded`). Pure.
 */
export function forwardTarget(
  hostname: string,
  port: number,
  connectorHost: boolean,
  allow: HostAllowList,
  guard: AddressGuard,
): TargetDecision {
  if (connectorHost) return { allowed: true, guarded: false };
  const host = normalizeIp(hostname);
  if (!allow.allows(host))
    return {
      allowed: false,
      status: 403,
      reason: `${hostname} is not the address of a listed connector: forward mode reaches only those (and the hosts the proxy's --forward-allow-hosts lists)`,
    };
  if (isIP(host)) {
    const why = guard.refusal(host, port);
    if (why) return { allowed: false, status: 403, reason: `forward mode does not connect to ${hostname}: ${why}` };
  }
  return { allowed: true, guarded: true };
}

/** `host:port` (lower case, IPv6 without brackets, default ports explicit) of every address of `connectors`. */
export function connectorHostPorts(connectors: readonly AddressedConnector[]): Set<string> {
  const out = new Set<string>();
  for (const c of connectors)
    for (const a of connectorAddresses(c)) {
      try {
        const u = new URL(a);
        const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
        out.add(`${host.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`);
      } catch {
        // an invalid address reaches nothing
      }
    }
  return out;
}
