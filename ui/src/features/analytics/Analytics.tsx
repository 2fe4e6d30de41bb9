// A team's analytics: messages per day, activity by connected service and projects by status over the
// last 7, 30 or 90 days or two chosen dates; each chart summarised in words and shown as a table on request.
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { type Analytics as Figures, commands, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { useReconnects } from "../../lib/reconnects";
import { ErrorLine } from "../../lib/ErrorLine";
import { BarChart } from "./BarChart";
import { type Bar, customRange, messageSeries, type Preset, PRESETS, presetRange, type Range, serviceSeries, statusSeries, summaries } from "./shape";

const MESSAGE_COLORS = ["--chart-1"];
const SERVICE_COLORS = ["--chart-2", "--chart-3", "--chart-4"];
const STATUS_COLORS = ["--chart-1", "--chart-4", "--chart-3", "--chart-2", "--chart-5"];

export function Analytics({ team }: { team: TeamMembership }) {
  const [preset, setPreset] = useState<Preset | "custom">(30);
  const [range, setRange] = useState<Range>(() => presetRange(30, new Date()));
  const [typed, setTyped] = useState<Range>(range);
  const [figures, setFigures] = useState<Figures | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Read again when the relay is back: figures never read on this device are not available offline.
  const reconnects = useReconnects();
  useEffect(() => {
    let current = true;
    setError(null);
    call(commands.analytics(team.id, range.from, range.to)).then(
      (f) => current && setFigures(f),
      (e) => current && setError(messageOf(e)),
    );
    return () => {
      current = false;
    };
  }, [team.id, range.from, range.to, reconnects]);

  function choose(value: Preset | "custom") {
    setPreset(value);
    if (value !== "custom") setRange(presetRange(value, new Date()));
  }

  function applyTyped(e: FormEvent) {
    e.preventDefault();
    const checked = customRange(typed.from, typed.to);
    if (checked.ok) setRange(checked.range);
    else setError(checked.reason);
  }

  const series = useMemo(
    () => figures && { messages: messageSeries(figures), services: serviceSeries(figures), statuses: statusSeries(figures), said: summaries(figures) },
    [figures],
  );

  return (
    <section className="panel analytics" data-testid="analytics">
      <div className="panel-head">
        <h2>Analytics</h2>
        <fieldset className="range" aria-label="Range">
          {PRESETS.map((days) => (
            <label key={days}>
              <input type="radio" name="range" checked={preset === days} onChange={() => choose(days)} data-testid={`range-${days}`} />
              {days} days
            </label>
          ))}
          <label>
            <input type="radio" name="range" checked={preset === "custom"} onChange={() => choose("custom")} data-testid="range-custom" />
            Dates
          </label>
        </fieldset>
      </div>
      {preset === "custom" && (
        <form className="inline dates" onSubmit={applyTyped}>
          <label>
            From <input type="date" value={typed.from} onChange={(e) => setTyped({ ...typed, from: e.target.value })} data-testid="range-from" />
          </label>
          <label>
            To <input type="date" value={typed.to} onChange={(e) => setTyped({ ...typed, to: e.target.value })} data-testid="range-to" />
          </label>
          <button type="submit" data-testid="range-apply">
            Show
          </button>
        </form>
      )}
      <ErrorLine error={error} onDismiss={() => setError(null)} testId="analytics-error" />
      {figures && series && (
        <>
          <p className="figures" data-testid="analytics-totals">
            <strong>{figures.total_messages}</strong> messages · <strong>{figures.active_members}</strong> of {figures.member_count} members posted · {figures.from} to {figures.to}
          </p>
          <div className="charts">
            <ChartFigure title="Messages per day" bars={series.messages} summary={series.said.messages} colors={MESSAGE_COLORS} testId="chart-messages" wide />
            <ChartFigure title="Activity by service" bars={series.services} summary={series.said.services} colors={SERVICE_COLORS} testId="chart-services" />
            <ChartFigure title="Projects by status" bars={series.statuses} summary={series.said.statuses} colors={STATUS_COLORS} testId="chart-statuses" />
          </div>
        </>
      )}
    </section>
  );
}

function ChartFigure(props: { title: string; bars: Bar[]; summary: string; colors: string[]; testId: string; wide?: boolean }) {
  const { title, bars, summary, colors, testId, wide } = props;
  return (
    <figure className={wide ? "wide" : undefined}>
      <figcaption>{title}</figcaption>
      <BarChart bars={bars} summary={summary} colors={colors} testId={testId} />
      <p className="summary" data-testid={`${testId}-summary`}>
        {summary}
      </p>
      <details>
        <summary>Show as table</summary>
        <table data-testid={`${testId}-table`}>
          <thead>
            <tr>
              <th scope="col">{title.split(" ")[0] === "Messages" ? "Day" : title.endsWith("service") ? "Service" : "Status"}</th>
              <th scope="col">Count</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((b) => (
              <tr key={b.label}>
                <th scope="row">{b.label}</th>
                <td>{b.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
