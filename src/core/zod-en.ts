/**
 * Zod parsing with zod's English messages, for schemas written against `zod/mini`.
 *
 * `zod/mini` installs no locale, so its issues read "Invalid input". Classic zod installs English
 * globally, but importing it makes esbuild keep zod's whole namespace, all 64 locales included
 * (~410 KB), in the chunk every zod user shares, which each command paid to compile (issue 8 §4).
 * Passing the English error map per parse gives the same messages as classic zod, with no global
 * side effect. Pure.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

const english = { error: en().localeError };

/** `z.safeParse` with zod's English messages. */
export function safeParseEn<S extends z.ZodMiniType>(schema: S, value: unknown) {
  return z.safeParse(schema, value, english);
}
