/**
 * A small PNG reader for tests: 8-bit greyscale, RGB or RGBA, non-interlaced (what resvg
 * writes). Decodes the image so that tests can look at pixels (is it blank? how big?).
 * Format: PNG specification (W3C, 2nd ed., 2003), §11.2 (IHDR), §9 (filters, Paeth §9.4).
 */
import { inflateSync } from "node:zlib";

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  /** Channels per pixel (1 grey, 3 RGB, 4 RGBA). */
  readonly channels: number;
  /** Row-major samples, `channels` per pixel. */
  readonly data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The width and height in the IHDR chunk. @throws when `png` is not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  if (png.length < 24 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error("not a PNG");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Decodes a PNG. @throws on formats outside the subset above. */
export function decodePng(png: Uint8Array): DecodedPng {
  const { width, height } = pngSize(png);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let channels = 0;
  const idat: Uint8Array[] = [];
  for (let off = 8; off + 8 <= png.length; ) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    const body = png.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      const depth = body[8];
      const colour = body[9];
      if (depth !== 8 || body[12] !== 0) throw new Error(`unsupported PNG: depth ${depth}, interlace ${body[12]}`);
      channels = colour === 0 ? 1 : colour === 2 ? 3 : colour === 6 ? 4 : colour === 4 ? 2 : 0;
      if (channels === 0) throw new Error(`unsupported PNG colour type ${colour}`);
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (row[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      const x = src[i] as number;
      let p: number;
      if (filter === 0) p = x;
      else if (filter === 1) p = x + a;
      else if (filter === 2) p = x + b;
      else if (filter === 3) p = x + ((a + b) >> 1);
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else throw new Error(`bad PNG filter ${filter}`);
      row[i] = p & 0xff;
    }
  }
  return { width, height, channels, data: out };
}

/** Share of pixels that are not (near) white: 0 for a blank image. */
export function inkShare(img: DecodedPng): number {
  let ink = 0;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    const o = p * img.channels;
    const colour = img.channels >= 3 ? [img.data[o], img.data[o + 1], img.data[o + 2]] : [img.data[o]];
    if (colour.some((v) => (v as number) < 235)) ink++;
  }
  return ink / n;
}

/** Number of distinct colours (RGB), up to `cap`. */
export function colourCount(img: DecodedPng, cap = 10_000): number {
  const seen = new Set<number>();
  const n = img.width * img.height;
  for (let p = 0; p < n && seen.size < cap; p++) {
    const o = p * img.channels;
    seen.add(img.channels >= 3 ? ((img.data[o] as number) << 16) | ((img.data[o + 1] as number) << 8) | (img.data[o + 2] as number) : (img.data[o] as number));
  }
  return seen.size;
}
