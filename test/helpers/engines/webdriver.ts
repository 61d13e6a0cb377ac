/**
 * The few W3C WebDriver commands the WebKit engine needs, over fetch (https://www.w3.org/TR/webdriver2/): a
 * session, navigation, script execution, windows, element click and keys, screenshots, cookies. One command at a
 * time per session is what the protocol does anyway; the caller orders them.
 */
export class WebDriverError extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(`WebDriver ${error}: ${message}`);
  }
}

/** The key W3C WebDriver gives an element reference in JSON. */
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export async function command<T>(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: object, timeoutMs?: number): Promise<T> {
  const res = await fetch(base + path, {
    method,
    signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
    headers: body ? { 'Content-Type': 'application/json; charset=utf-8' } : {},
    body: body ? JSON.stringify(body) : method === 'POST' ? '{}' : undefined,
  });
  const json = (await res.json()) as { value: T & { error?: string; message?: string } };
  if (!res.ok) throw new WebDriverError(json.value?.error ?? String(res.status), json.value?.message ?? '');
  return json.value;
}

export class WebDriverSession {
  private constructor(
    private readonly base: string,
    readonly id: string,
  ) {}

  static async create(base: string, capabilities: object): Promise<WebDriverSession> {
    // Bounded: a MiniBrowser starts in a second or two; a driver that has not answered in a minute will not.
    const value = await command<{ sessionId: string }>(base, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } }, 60_000);
    return new WebDriverSession(base, value.sessionId);
  }

  private cmd<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<T> {
    return command<T>(this.base, method, `/session/${this.id}${path}`, body);
  }

  navigate = (url: string) => this.cmd<null>('POST', '/url', { url });
  refresh = () => this.cmd<null>('POST', '/refresh');
  /** Runs `script` as a function body with `args` as its arguments, and returns what it returns. */
  execute = <T>(script: string, args: unknown[] = []) => this.cmd<T>('POST', '/execute/sync', { script, args });
  windowHandle = () => this.cmd<string>('GET', '/window');
  newWindow = async (type: 'tab' | 'window') => (await this.cmd<{ handle: string }>('POST', '/window/new', { type })).handle;
  closeWindow = () => this.cmd<string[]>('DELETE', '/window');
  switchToWindow = (handle: string) => this.cmd<null>('POST', '/window', { handle });
  async findElement(css: string): Promise<string> {
    const el = await this.cmd<Record<string, string>>('POST', '/element', { using: 'css selector', value: css });
    return el[ELEMENT];
  }
  click = (element: string) => this.cmd<null>('POST', `/element/${element}/click`);
  clear = (element: string) => this.cmd<null>('POST', `/element/${element}/clear`);
  sendKeys = (element: string, text: string) => this.cmd<null>('POST', `/element/${element}/value`, { text });
  /** PNG, base64. */
  screenshot = () => this.cmd<string>('GET', '/screenshot');
  cookies = () => this.cmd<{ name: string; httpOnly: boolean; domain?: string }[]>('GET', '/cookie');
  delete = () => this.cmd<null>('DELETE', '');
}
