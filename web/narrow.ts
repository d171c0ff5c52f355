// The narrow layout: windows up to 1100 px wide (a laptop's half screen, an 800 × 600 window). There
// the Processes view puts its pie under the table (style.css), the tables start with fewer columns
// and the status strip with shorter wording. Whatever the column pickers choose is kept apart for
// each layout, so that a column added back in a narrow window does not crowd the wide one, and the
// other way round.
const QUERY = '(max-width: 1100px)';

export function isNarrow(): boolean {
  return window.matchMedia(QUERY).matches;
}

/** Calls `f` whenever the window crosses into or out of the narrow layout. */
export function onLayoutChange(f: () => void): void {
  window.matchMedia(QUERY).addEventListener('change', f);
}

/** The localStorage key of a column picker's choice in the current layout. */
export function layoutKey(key: string): string {
  return isNarrow() ? `${key}-narrow` : key;
}
