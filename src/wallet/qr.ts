/**
 * QR codes of dojang: URIs (spec §12.2): an address or a challenge as PNG, SVG or
 * terminal text (the `qrcode` package), and read back from a PNG image (`jsqr`).
 * Node only (pngjs).
 */
import QRCode from 'qrcode';
import jsqrModule from 'jsqr';
import { PNG } from 'pngjs';
import { LedgerError } from '../core/errors.js';

type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
// A CommonJS module whose default export is the function itself, or under .default, by loader.
const jsQR = ((jsqrModule as unknown as { default?: JsQr }).default ?? jsqrModule) as unknown as JsQr;

/** Error correction M: a printed code on a counter survives some wear (15%). */
const OPTS = { errorCorrectionLevel: 'M' as const, margin: 4 };

/** qrPng renders text as a PNG QR code (`scale` pixels per module). */
export async function qrPng(text: string, scale = 8): Promise<Uint8Array> {
  return new Uint8Array(await QRCode.toBuffer(text, { ...OPTS, type: 'png', scale }));
}

/** qrSvg renders text as an SVG QR code. */
export function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { ...OPTS, type: 'svg' });
}

/** qrTerminal renders text as a QR code of Unicode half blocks, for a terminal. */
export function qrTerminal(text: string): Promise<string> {
  return QRCode.toString(text, { ...OPTS, type: 'utf8' });
}

/**
 * readQr finds and decodes the QR code in a PNG image (a photo or a screenshot) and
 * returns its text. MALFORMED for bytes that are not a PNG; NOT_FOUND when the image
 * holds no readable QR code.
 */
export function readQr(png: Uint8Array): string {
  let img: PNG;
  try {
    img = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  } catch (e) {
    throw new LedgerError('MALFORMED', `not a PNG image: ${(e as Error).message}`);
  }
  const found = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength), img.width, img.height);
  if (found === null) throw new LedgerError('NOT_FOUND', 'no QR code found in the image');
  return found.data;
}
