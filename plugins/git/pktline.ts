// Git's ref advertisement as smart HTTP serves it (pure): the body of
// `GET <repo>/info/refs?service=git-upload-pack`, in pkt-lines (gitprotocol-common, gitprotocol-pack,
// gitprotocol-http):
//   001e# service=git-upload-pack\n 0000                         the smart-HTTP service header, a flush
//   [000eversion 1\n]                                             protocol v1 only
//   <len><oid> <ref>\0<capabilities>\n                            the first ref carries the capabilities
//   <len><oid> <ref>\n ...                                        (`<ref>^{}`: an annotated tag's peeled object)
//   0000                                                          the end
// An empty repository advertises `<zero-id> capabilities^{}\0<caps>`. A pkt-line is 4 hex digits of its whole
// length then the data; 0000 is a flush, 0001/0002 are protocol v2's delimiters (never in a v0/v1 ref list).
// Anything else, including a truncated body or bytes after the end, is a PktLineError: the input comes from a
// server on the network and is never trusted.

/** The largest pkt-line git allows (LARGE_PACKET_MAX). */
export const MAX_PKT_LEN = 65520;

export class PktLineError extends Error {
  override name = 'PktLineError';
}

export interface AdvertisedRef {
  name: string;
  /** Object id (40 hex digits for SHA-1, 64 for SHA-256). */
  oid: string;
  /** For an annotated tag: the object it points to (from the `^{}` line). */
  peeled?: string;
}

export interface RefAdvertisement {
  refs: AdvertisedRef[];
  capabilities: string[];
  /** `version 1` was announced. */
  version: 0 | 1;
}

export type Pkt = { kind: 'data'; data: Buffer } | { kind: 'flush' } | { kind: 'delim' } | { kind: 'end' };

/** Splits a whole body into pkt-lines. */
export function splitPktLines(buf: Buffer): Pkt[] {
  const out: Pkt[] = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 4 > buf.length) throw new PktLineError(`truncated pkt-line length at byte ${i}`);
    const hex = buf.toString('latin1', i, i + 4);
    if (!/^[0-9a-f]{4}$/i.test(hex))
      throw new PktLineError(`invalid pkt-line length ${JSON.stringify(hex)} at byte ${i}`);
    const len = parseInt(hex, 16);
    if (len === 0) out.push({ kind: 'flush' });
    else if (len === 1) out.push({ kind: 'delim' });
    else if (len === 2) out.push({ kind: 'end' });
    else if (len < 4) throw new PktLineError(`invalid pkt-line length ${len} at byte ${i}`);
    else if (len > MAX_PKT_LEN) throw new PktLineError(`pkt-line of ${len} bytes at byte ${i} exceeds ${MAX_PKT_LEN}`);
    else {
      if (i + len > buf.length) throw new PktLineError(`truncated pkt-line at byte ${i}: ${len} bytes announced`);
      out.push({ kind: 'data', data: buf.subarray(i + 4, i + len) });
    }
    i += len < 4 ? 4 : len;
  }
  return out;
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ZERO_OID = /^0+$/;

/** A ref name git could have advertised: printable, no space, no control characters, no `..`. */
function validRefName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 4096 &&
    /^[\x21-\x7e\x80-\uffff]+$/.test(name) &&
    !name.includes('..') &&
    !name.startsWith('/') &&
    !name.endsWith('/')
  );
}

/** The text of a data pkt-line without its optional trailing LF. */
function lineText(data: Buffer): string {
  const end = data.length > 0 && data[data.length - 1] === 0x0a ? data.length - 1 : data.length;
  return data.toString('utf8', 0, end);
}

/**
 * Parses a smart-HTTP upload-pack ref advertisement. `expectService` (default true): the body starts with the
 * `# service=git-upload-pack` header, as smart HTTP sends it.
 */
export function parseRefAdvertisement(buf: Buffer, expectService = true): RefAdvertisement {
  const pkts = splitPktLines(buf);
  let i = 0;
  if (expectService) {
    const first = pkts[i++];
    if (!first || first.kind !== 'data')
      throw new PktLineError('the advertisement does not start with "# service=git-upload-pack"');
    const text = lineText(first.data);
    if (text !== '# service=git-upload-pack')
      throw new PktLineError(
        `the advertisement starts with ${JSON.stringify(text.slice(0, 80))}, not "# service=git-upload-pack"`,
      );
    const flush = pkts[i++];
    if (!flush || flush.kind !== 'flush') throw new PktLineError('no flush after the service line');
  }
  let version: 0 | 1 = 0;
  const refs: AdvertisedRef[] = [];
  let capabilities: string[] = [];
  let first = true;
  let ended = false;
  for (; i < pkts.length; i++) {
    const p = pkts[i];
    if (p.kind === 'flush') {
      ended = true;
      i++;
      break;
    }
    if (p.kind !== 'data')
      throw new PktLineError('a protocol v2 delimiter in a ref advertisement (the server answered protocol v2)');
    let text = lineText(p.data);
    if (text.startsWith('ERR ')) throw new PktLineError(`the server reports an error: ${text.slice(4, 200)}`);
    if (first && text === 'version 1' && version === 0 && refs.length === 0) {
      version = 1;
      continue;
    }
    if (first && text === 'version 2')
      throw new PktLineError('the server answered protocol v2, which lists no refs here');
    if (first) {
      const nul = text.indexOf('\0');
      if (nul !== -1) {
        capabilities = text
          .slice(nul + 1)
          .split(' ')
          .filter(Boolean);
        text = text.slice(0, nul);
      }
    } else if (text.includes('\0')) throw new PktLineError('a NUL byte in a ref line after the first');
    const sp = text.indexOf(' ');
    if (sp === -1) throw new PktLineError(`a ref line without a space: ${JSON.stringify(text.slice(0, 80))}`);
    const oid = text.slice(0, sp);
    const name = text.slice(sp + 1);
    if (!OID.test(oid)) throw new PktLineError(`invalid object id ${JSON.stringify(oid.slice(0, 80))}`);
    if (first && name === 'capabilities^{}') {
      if (!ZERO_OID.test(oid)) throw new PktLineError('capabilities^{} with a non-zero object id');
      first = false;
      continue; // an empty repository
    }
    first = false;
    if (name.endsWith('^{}')) {
      const base = name.slice(0, -3);
      const last = refs[refs.length - 1];
      if (!last || last.name !== base || last.peeled !== undefined)
        throw new PktLineError(`peeled ref ${JSON.stringify(name)} does not follow ${JSON.stringify(base)}`);
      last.peeled = oid;
      continue;
    }
    if (!validRefName(name)) throw new PktLineError(`invalid ref name ${JSON.stringify(name.slice(0, 80))}`);
    refs.push({ name, oid });
  }
  if (!ended) throw new PktLineError('the advertisement ends without a flush (truncated)');
  if (i < pkts.length) throw new PktLineError('data after the end of the advertisement');
  return { refs, capabilities, version };
}

/** Git's dumb-HTTP info/refs (`<oid>\t<ref>` lines), for servers without smart HTTP. */
export function parseDumbRefs(text: string): AdvertisedRef[] {
  const refs: AdvertisedRef[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const oid = tab === -1 ? '' : line.slice(0, tab);
    const name = line.slice(tab + 1);
    if (!OID.test(oid)) throw new PktLineError(`invalid dumb info/refs line ${JSON.stringify(line.slice(0, 80))}`);
    if (name.endsWith('^{}')) {
      const last = refs[refs.length - 1];
      if (!last || last.name !== name.slice(0, -3))
        throw new PktLineError(`misplaced peeled ref ${JSON.stringify(name)}`);
      last.peeled = oid;
      continue;
    }
    if (!validRefName(name)) throw new PktLineError(`invalid ref name ${JSON.stringify(name.slice(0, 80))}`);
    refs.push({ name, oid });
  }
  return refs;
}
