import { describe, expect, it } from 'vitest';
import { NameInUseWatch } from '../name-in-use.js';

const NAME = 'aibox-base-shop-0123456789ab';
// podman 4.3's refusal, word for word
const REFUSAL = `Error: creating container storage: the container name "${NAME}" is already in use by 9008187d07. You have to remove that container to be able to reuse that name: that name is already in use\n`;

function watch(): { w: NameInUseWatch; out: () => string } {
  const chunks: Buffer[] = [];
  return {
    w: new NameInUseWatch(NAME, (c) => chunks.push(Buffer.from(c))),
    out: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** Feed `text` in chunks of `size` bytes. */
function feed(w: NameInUseWatch, text: string, size: number): void {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) w.push(b.subarray(i, i + size));
}

describe('NameInUseWatch (podman run --name, looked up only on refusal)', () => {
  it.each([1, 7, 4096])(
    "swallows podman's refusal for this name at exit 125 (chunks of %i bytes)",
    (size) => {
      const { w, out } = watch();
      feed(w, `WARN[0000] some podman warning\n${REFUSAL}`, size);
      expect(w.finish(125)).toBe(true);
      expect(out()).toBe('WARN[0000] some podman warning\n');
    },
  );

  it('forwards every other byte unchanged, in order, also when the refusal text is followed by more output', () => {
    const { w, out } = watch();
    const text = `Error: partial\nplain output\n${REFUSAL}more after it\nlast line without newline`;
    feed(w, text, 5);
    expect(w.finish(125)).toBe(false);
    expect(out()).toBe(text);
  });

  it('another exit code, or another name, is never a refusal: the line is shown', () => {
    for (const [text, code] of [
      [REFUSAL, 1],
      [REFUSAL.replace(NAME, 'aibox-base-other-0123456789ab'), 125],
    ] as const) {
      const { w, out } = watch();
      feed(w, text, 3);
      expect(w.finish(code)).toBe(false);
      expect(out()).toBe(text);
    }
  });

  it('does not hold ordinary partial lines (a prompt on stderr shows at once), nor anything after 16 KiB', () => {
    const { w, out } = watch();
    w.push(Buffer.from('Password: '));
    expect(out()).toBe('Password: ');
    const { w: w2, out: out2 } = watch();
    feed(w2, `${'x'.repeat(17 * 1024)}\n${REFUSAL}`, 1024);
    expect(w2.finish(125)).toBe(false);
    expect(out2().endsWith(REFUSAL)).toBe(true);
  });

  it('passes non-UTF-8 bytes through unchanged', () => {
    const chunks: Buffer[] = [];
    const w = new NameInUseWatch(NAME, (c) => chunks.push(Buffer.from(c)));
    const bytes = Buffer.from([0xff, 0xfe, 0x0a, 0xc3, 0x28]);
    w.push(bytes);
    w.finish(0);
    expect(Buffer.concat(chunks)).toEqual(bytes);
  });
});
