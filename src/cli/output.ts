import pc from 'picocolors';

type Colors = ReturnType<typeof pc.createColors>;

export interface Io {
  readonly stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadStream | NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };

export function isTerminal(stream: unknown): boolean {
  return Boolean((stream as { isTTY?: boolean }).isTTY);
}

/**
 * Everything the commands print goes through here: aligned tables, JSON for --json, and colour only
 * on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb.
 */
export class Output {
  readonly color: Colors;

  constructor(
    readonly io: Io,
    readonly json: boolean,
  ) {
    const enabled = isTerminal(io.stdout) && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
    this.color = pc.createColors(enabled);
  }

  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  error(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Columns padded to their widest cell; `right` columns (numbers, sizes) aligned to the right. */
  table(headers: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): void {
    const widths = headers.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
    const render = (cells: readonly string[], style: (s: string) => string = (s) => s) =>
      cells
        .map((c, i) => {
          const pad = ' '.repeat(widths[i]! - visible(c));
          return right.includes(i) ? pad + c : c + (i === cells.length - 1 ? '' : pad);
        })
        .map((c) => style(c))
        .join('  ')
        .trimEnd();
    this.line(render(headers, this.color.bold));
    for (const row of rows) this.line(render(row));
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function visible(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

/** "1 row", "2 rows": a count with its noun in the right number (`plural` for irregular ones). */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`;
}

/** "2h 5m", "3m 12s", "45s", "800ms". */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `[######--------------] 31%` */
export function utilisationBar(ratio: number, width = 20): string {
  const clamped = Math.max(0, Math.min(1, ratio));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.round(ratio * 100)}%`;
}
