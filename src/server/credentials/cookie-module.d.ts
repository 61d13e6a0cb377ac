// cookie 0.7 ships no types (1.x does, but express-session pins 0.7 and we must serialize exactly as it does).
declare module 'cookie' {
  export interface CookieSerializeOptions {
    domain?: string | undefined;
    encode?(value: string): string;
    expires?: Date | undefined;
    httpOnly?: boolean | undefined;
    maxAge?: number | undefined;
    partitioned?: boolean | undefined;
    path?: string | undefined;
    priority?: 'low' | 'medium' | 'high' | undefined;
    sameSite?: true | false | 'lax' | 'strict' | 'none' | undefined;
    secure?: boolean | undefined;
  }
  export function parse(str: string, options?: { decode?(value: string): string }): Record<string, string | undefined>;
  export function serialize(name: string, value: string, options?: CookieSerializeOptions): string;
}
