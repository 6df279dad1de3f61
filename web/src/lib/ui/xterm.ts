import type { ITerminalOptions, Terminal } from '@xterm/xterm';

/** Keelson's terminal look, shared by run output and container shells. */
const LOOK = {
  fontFamily: "ui-monospace, 'SF Mono', 'Cascadia Mono', 'DejaVu Sans Mono', Menlo, Consolas, monospace",
  fontSize: 13,
  lineHeight: 1.2,
  theme: { background: '#0f1419', foreground: '#d7dce2', cursor: '#d7dce2', selectionBackground: '#3a4656' },
} satisfies ITerminalOptions;

/**
 * Loads xterm (large, and it needs the DOM, so only where a terminal is shown), opens one in
 * `host` sized to it and following its size, then hands it to `ready`. The returned function
 * disposes of it, also when called before loading finished.
 */
export function mountTerminal(host: HTMLElement, options: ITerminalOptions, ready: (terminal: Terminal) => void): () => void {
  let disposed = false;
  let terminal: Terminal | undefined;
  let observer: ResizeObserver | undefined;
  void Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]).then(([{ Terminal }, { FitAddon }]) => {
    if (disposed) return;
    terminal = new Terminal({ ...LOOK, ...options, theme: { ...LOOK.theme, ...options.theme } });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(host);
    fit.fit();
    observer = new ResizeObserver(() => fit.fit());
    observer.observe(host);
    ready(terminal);
  });
  return () => {
    disposed = true;
    observer?.disconnect();
    terminal?.dispose();
  };
}
