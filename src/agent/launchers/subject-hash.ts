// OpenSSL's subject hash of a certificate (`openssl x509 -subject_hash`): the name a hashed
// certificate directory (c_rehash, SSL_CERT_DIR) files it under, `<hash>.<n>`. OpenSSL finds an
// issuer in such a directory by this hash of the issuer's name, so a file under another name is
// never found (less trust, never more). The hash is SHA-1 of the subject's canonical encoding
// (OpenSSL's x509_name_canon): each RDN's attributes DER-encoded again with every string value
// turned into a UTF8String, trimmed of ASCII whitespace, inner runs of it collapsed to one space
// and ASCII letters lowercased; the RDN sets concatenated without the outer SEQUENCE; the first
// four bytes of the digest read little-endian.
import { createHash } from 'node:crypto';

interface Tlv {
  tag: number;
  /** The whole element, header included. */
  start: number;
  /** Its contents. */
  body: number;
  end: number;
}

function readTlv(der: Uint8Array, at: number, limit = der.length): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tag');
  let len = der[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[body + i]!;
    body += n;
  }
  const end = body + len;
  if (end > limit) throw new Error('truncated DER');
  return { tag, start: at, body, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end;) {
    const t = readTlv(der, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const UTF8_STRING = 0x0c;
/** String types OpenSSL canonicalizes (ASN1_MASK_CANON); others are kept as they are. */
const CANON_STRINGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1a, 0x1c, 0x1e]);

/** The string's characters as ASN1_STRING_to_UTF8 reads them. */
function decodeString(tag: number, bytes: Uint8Array): string {
  if (tag === UTF8_STRING) return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  if (tag === 0x1e) {
    if (bytes.length % 2) throw new Error('odd BMPString');
    let s = '';
    for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return s;
  }
  if (tag === 0x1c) {
    if (bytes.length % 4) throw new Error('bad UniversalString');
    let s = '';
    for (let i = 0; i < bytes.length; i += 4) {
      s += String.fromCodePoint(
        ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0,
      );
    }
    return s;
  }
  // PrintableString, T61String, IA5String, VisibleString: one byte per character.
  return String.fromCharCode(...bytes);
}

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** asn1_string_canon on UTF-8 bytes: trim, collapse inner whitespace, ASCII to lower case. */
function canonBytes(utf8: Uint8Array): Uint8Array {
  let from = 0;
  let to = utf8.length;
  while (from < to && isSpace(utf8[from]!)) from++;
  while (to > from && isSpace(utf8[to - 1]!)) to--;
  const out: number[] = [];
  for (let i = from; i < to;) {
    const b = utf8[i]!;
    if (b & 0x80) {
      out.push(b);
      i++;
    } else if (isSpace(b)) {
      out.push(0x20);
      while (isSpace(utf8[i]!)) i++;
    } else {
      out.push(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
      i++;
    }
  }
  return Uint8Array.from(out);
}

function encode(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else {
    const len: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    header = [tag, 0x80 | len.length, ...len];
  }
  return Buffer.concat([Uint8Array.from(header), body]);
}

/** DER's SET OF order: by encoding, a shorter one first when one is a prefix of the other. */
function derOrder(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The subject's canonical encoding, from a certificate's DER. */
export function canonicalSubject(certDer: Uint8Array): Buffer {
  const cert = readTlv(certDer, 0);
  const tbs = children(certDer, cert)[0];
  if (cert.tag !== SEQUENCE || tbs?.tag !== SEQUENCE) throw new Error('not a certificate');
  const fields = children(certDer, tbs);
  // [0] version is optional; then serial, signature, issuer, validity, subject.
  const subject = fields[fields[0]?.tag === 0xa0 ? 5 : 4];
  if (subject?.tag !== SEQUENCE) throw new Error('certificate without a subject');
  const sets: Uint8Array[] = [];
  for (const rdn of children(certDer, subject)) {
    if (rdn.tag !== SET) throw new Error('bad RDN');
    const atvs = children(certDer, rdn).map((atv) => {
      const [oid, value] = children(certDer, atv);
      if (atv.tag !== SEQUENCE || !oid || !value) throw new Error('bad attribute');
      const oidBytes = certDer.subarray(oid.start, oid.end);
      const valueBytes = CANON_STRINGS.has(value.tag)
        ? encode(
            UTF8_STRING,
            canonBytes(Buffer.from(decodeString(value.tag, certDer.subarray(value.body, value.end)), 'utf8')),
          )
        : certDer.subarray(value.start, value.end);
      return encode(SEQUENCE, Buffer.concat([oidBytes, valueBytes]));
    });
    sets.push(encode(SET, Buffer.concat(atvs.sort(derOrder))));
  }
  return Buffer.concat(sets);
}

/** `openssl x509 -subject_hash`, eight lowercase hex digits. */
export function subjectHash(certDer: Uint8Array): string {
  const md = createHash('sha1').update(canonicalSubject(certDer)).digest();
  return md.readUInt32LE(0).toString(16).padStart(8, '0');
}
