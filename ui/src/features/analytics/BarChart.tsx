// One bar chart (Chart.js, only the parts a bar chart needs, so the rest stays out of the bundle), in the
// theme's colours, redrawn when the theme changes. The canvas is an image whose name is the summary; the
// same numbers are one click away as a table.
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from "chart.js";
import { useEffect, useRef } from "react";
import { THEME_CHANGED } from "../appearance/theme";
import type { Bar } from "./shape";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

type Props = {
  bars: Bar[];
  /** What the chart says, for those who cannot see it. */
  summary: string;
  /** CSS variables (from styles.css) for the bars' colours, cycled. */
  colors: string[];
  testId: string;
};

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function BarChart({ bars, summary, colors, testId }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const node = canvas.current;
    if (!node) return;
    let chart: Chart | null = null;
    const draw = () => {
      chart?.destroy();
      const [text, muted, line] = [cssVar("--text"), cssVar("--muted"), cssVar("--line")];
      const fills = bars.map((_, i) => cssVar(colors[i % colors.length]));
      chart = new Chart(node, {
        type: "bar",
        data: { labels: bars.map((b) => b.label), datasets: [{ data: bars.map((b) => b.value), backgroundColor: fills, borderRadius: 3 }] },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          // The page is drawn in one pass for screenshots and tests; no animation to wait for.
          animation: false,
          color: text,
          scales: {
            x: { ticks: { color: muted, maxRotation: 0, autoSkip: true }, grid: { display: false }, border: { color: line } },
            y: { beginAtZero: true, ticks: { color: muted, precision: 0 }, grid: { color: line }, border: { color: line } },
          },
          plugins: { tooltip: { enabled: true } },
        },
      });
    };
    draw();
    window.addEventListener(THEME_CHANGED, draw);
    return () => {
      window.removeEventListener(THEME_CHANGED, draw);
      chart?.destroy();
    };
  }, [bars, colors]);

  return (
    <div className="chart">
      <canvas ref={canvas} role="img" aria-label={summary} data-testid={testId} />
    </div>
  );
}
