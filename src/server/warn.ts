/** Warnings go through process.emitWarning (catchable, and silenced by --no-warnings), each at most once per process. */
const warned = new Set<string>();

export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'HybridSessionWarning', code });
}
