// ECharts, tree-shaken to the chart types the dashboard draws. Labels and legends are drawn on
// the canvas (text, not markup); tooltips are HTML, so every tooltip here is built by a formatter
// that escapes all data with ECharts' own encodeHTML: a process named "<i id=pwn>x" shows as text.
import { HeatmapChart, LineChart, PieChart, SunburstChart, TreemapChart } from 'echarts/charts';
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapPiecewiseComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import { axisText, type AxisScale } from '../src/base/axis.js';

echarts.use([
  PieChart,
  SunburstChart,
  TreemapChart,
  LineChart,
  HeatmapChart,
  VisualMapPiecewiseComponent,
  TooltipComponent,
  LegendComponent,
  GridComponent,
  DataZoomComponent,
  MarkAreaComponent,
  MarkLineComponent,
  CanvasRenderer,
  SVGRenderer,
]);

export { echarts };
export type Chart = echarts.ECharts;

/** Escapes text for the HTML of a tooltip. */
export const esc = (s: string): string => echarts.format.encodeHTML(s);

/** Colours from the page's theme (CSS variables), so charts follow light and dark. */
export function themeColours(): { text: string; muted: string; grid: string; palette: string[] } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string): string => css.getPropertyValue(name).trim();
  return {
    text: v('--fg'),
    muted: v('--muted'),
    grid: v('--border'),
    // The shared colour-blind-safe palette (src/base/palette.ts), per theme; the last is neutral grey.
    palette: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => v(`--c${i}`)),
  };
}

/**
 * The pie's colours: Paul Tol's colour-blind-safe "muted" scheme on light, his "light" scheme on
 * dark (https://personal.sron.nl/~pault/), one colour per named slice, grey for the remainder.
 * Slices are also named on the ring and in the legend, so colour is never the only key.
 */
export function pieColours(): { slices: string[]; others: string } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string): string => css.getPropertyValue(name).trim();
  return { slices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => v(`--pie${i}`)), others: v('--pie-others') };
}

/** A chart in the container. SVG where tests read the rendered labels (each is an element). */
export function makeChart(container: HTMLElement, renderer: 'canvas' | 'svg' = 'canvas'): Chart {
  const chart = echarts.init(container, undefined, { renderer });
  new ResizeObserver(() => chart.resize()).observe(container);
  return chart;
}

/** A value axis from 0 with the ticks of a nice scale (src/base/axis.ts), each labelled in its unit. */
export function scaleAxis(a: AxisScale): Record<string, unknown> {
  const c = themeColours();
  return {
    type: 'value',
    min: 0,
    max: a.max,
    interval: a.step,
    axisLabel: { color: c.muted, formatter: (v: number) => axisText(v, a) },
    splitLine: { lineStyle: { color: c.grid } },
  };
}

/** Tooltip options shared by every chart: HTML, appended to the chart, data escaped by formatters. */
export function tooltipBase(): Record<string, unknown> {
  const c = themeColours();
  return {
    confine: true,
    backgroundColor: getComputedStyle(document.documentElement).getPropertyValue('--panel').trim(),
    borderColor: c.grid,
    textStyle: { color: c.text },
  };
}
