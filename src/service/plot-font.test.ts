/**
 * PNG plots render with a subset of DejaVu Sans when their text fits it (resvg parses fonts on every
 * rendering, and the whole font was about half of a plot's time): the subset must draw the same
 * pixels, and text outside it must get the whole font.
 */
import { createRequire } from "node:module";
import { Resvg } from "@resvg/resvg-js";
import { describe, expect, it } from "vitest";
import { plotFont } from "./plots.js";

const whole = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf");
const svg = (text: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="70"><rect width="640" height="70" fill="white"/>` +
  `<text x="4" y="28" font-family="DejaVu Sans" font-size="13" font-weight="bold">${text}</text>` +
  `<text x="4" y="56" font-family="DejaVu Sans" font-size="10">${text}</text></svg>`;
const png = (s: string, font: string) =>
  new Resvg(s, { background: "white", font: { loadSystemFonts: false, fontFiles: [font], defaultFontFamily: "DejaVu Sans" } }).render().asPng();

const LATIN = "Trial 12 — lr=3.0e−4 ≤ best × 1.05; AVAW To fi ffl é ü ß Ł ő η σ Δ … → ∞ ■";
const CYRILLIC = "Скорость обучения";

describe("the plot font", () => {
  it("is the subset for text it covers, and the whole font otherwise", () => {
    const subset = plotFont(svg(LATIN));
    expect(subset).toMatch(/assets\/fonts\/DejaVuSans-plots\.ttf$/);
    expect(plotFont(svg(CYRILLIC))).toBe(whole);
    expect(plotFont(svg("漢字"))).toBe(whole);
    // A character reference could name anything.
    expect(plotFont(svg("&#x41F;"))).toBe(whole);
    expect(plotFont(svg("&amp; &lt;"))).toBe(subset);
  });

  it("draws the same pixels with the subset as with the whole font for the text it covers", () => {
    const subset = plotFont(svg(LATIN))!;
    expect(png(svg(LATIN), subset).equals(png(svg(LATIN), whole))).toBe(true);
    // ...and not for text outside it, which is why that text gets the whole font.
    expect(png(svg(CYRILLIC), subset).equals(png(svg(CYRILLIC), whole))).toBe(false);
  });
});
