// The colours of every chart memlens draws: Okabe and Ito's colour-blind-safe set ("Color
// Universal Design", Okabe & Ito 2008), which stays distinguishable under protanopia,
// deuteranopia and tritanopia. The dashboard reads them from web/style.css (--c1…--c8 per
// theme, checked equal to these by test/base/palette.test.ts); the HTML report of
// `memlens memtrace` uses them directly.

/**
 * Light theme: the published values, in the order charts take them. Sky blue comes last of the
 * hues so that the six categories of a usual ledger never put it beside blue.
 */
export const PALETTE_LIGHT = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#F0E442',
  '#56B4E9',
  '#8C8C8C',
] as const;

/**
 * Dark theme: the same hues; blue and vermillion a little lighter for contrast on a near-black
 * background (blue no lighter than this, or it meets sky blue); the neutral grey darker so that
 * "free" recedes.
 */
export const PALETTE_DARK = [
  '#1F7FC8',
  '#E69F00',
  '#19B38A',
  '#F07A3A',
  '#D98EBA',
  '#F0E442',
  '#56B4E9',
  '#6E7278',
] as const;

/** Places of the hues in both palettes, for marks that mean one thing (Lwt frames: sky blue). */
export const HUE = { blue: 0, orange: 1, green: 2, vermillion: 3, purple: 4, yellow: 5, sky: 6, grey: 7 } as const;

/** Index of the neutral grey: for what is not a category of its own (free memory, the rest). */
export const PALETTE_NEUTRAL = HUE.grey;

/** Black or white, whichever reads better on `hex` (WCAG relative luminance). */
export function textOn(hex: string): '#000000' | '#ffffff' {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (m === null) return '#000000';
  const lin = (s: string | undefined): number => {
    const c = parseInt(s ?? '0', 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(m[1]) + 0.7152 * lin(m[2]) + 0.0722 * lin(m[3]);
  // Contrast with black (l + 0.05) / 0.05 against white 1.05 / (l + 0.05): equal at l ≈ 0.179.
  return l > 0.179 ? '#000000' : '#ffffff';
}
