import { isTerminal } from './output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Shows a spinner with `label` on stderr while `work` runs, if it takes longer than a second and
 * stderr is a terminal (never in pipes, CI logs or --json output). Twenty lines instead of a
 * dependency: it only draws and erases one line.
 */
export async function withProgress<T>(stderr: NodeJS.WritableStream, label: string, work: () => Promise<T>): Promise<T> {
  if (!isTerminal(stderr)) return work();
  const started = Date.now();
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    timer = setInterval(() => {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} (${seconds}s)`);
    }, 100);
  }, 1000);
  try {
    return await work();
  } finally {
    clearTimeout(delay);
    if (timer) {
      clearInterval(timer);
      stderr.write('\r\u001b[2K');
    }
  }
}
