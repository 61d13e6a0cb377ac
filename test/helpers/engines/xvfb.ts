/**
 * A virtual X display for WebKitGTK's MiniBrowser, which needs one even with nothing to show. `-displayfd` makes
 * Xvfb pick a free display number itself and write it to a pipe, so two test files starting one at once never
 * race for the same number. Stopped by the pid of Xvfb itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Display {
  /** For DISPLAY, e.g. ":99". */
  name: string;
  stop(): Promise<void>;
}

export async function startXvfb(executable: string): Promise<Display> {
  const child = spawn(executable, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  const number = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdio[3]!.on('data', (b) => {
      out += b;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before naming its display:\n${stderr}`)));
  });
  return { name: `:${number}`, stop: () => stopProcess(child) };
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s; resolves once it is gone. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
