/**
 * Podman's own "name already in use" refusal, picked out of an attached `podman run`'s stderr without
 * delaying anything else: `aibox start` runs `podman run --name SANDBOX …` directly and looks the
 * container up (`podman ps`) only when podman refused the name, instead of before every start.
 *
 * Podman 4.x prints, and exits 125 (podman-run(1) "Exit Status": 125 = podman's own error):
 *   Error: creating container storage: the container name "NAME" is already in use by ID. You have to
 *   remove that container to be able to reuse that name: that name is already in use
 * Every other byte is forwarded as it arrives; only a line that is (or may still become) that line for
 * this exact NAME is held, and it is forwarded as soon as anything follows it or the exit is not 125.
 */

/** Stop watching after this much stderr: podman's own start-up output is far smaller (then it is the container's). */
const WATCH_LIMIT = 16 * 1024;
const PREFIX = 'Error: ';

export class NameInUseWatch {
  readonly #needle: string;
  readonly #write: (chunk: Buffer) => void;
  /** bytes of the current, not yet forwarded line (a candidate) */
  #held: Buffer = Buffer.alloc(0);
  /** the held bytes are the complete conflict line */
  #complete = false;
  #seen = 0;

  constructor(name: string, write: (chunk: Buffer) => void) {
    this.#needle = `the container name "${name}" is already in use`;
    this.#write = write;
  }

  /** One stderr chunk of the child. */
  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.#seen >= WATCH_LIMIT) {
        this.#flush();
        this.#write(rest);
        return;
      }
      if (this.#complete) this.#flush(); // something follows the conflict line: it was not the end
      const nl = rest.indexOf(0x0a);
      const piece = nl < 0 ? rest : rest.subarray(0, nl + 1);
      rest = nl < 0 ? Buffer.alloc(0) : rest.subarray(nl + 1);
      this.#seen += piece.length;
      const line = Buffer.concat([this.#held, piece]);
      const text = line.toString('utf8');
      if (nl >= 0 && text.startsWith(PREFIX) && text.includes(this.#needle)) {
        this.#held = line;
        this.#complete = true;
      } else if (nl < 0 && this.#candidate(text)) {
        this.#held = line;
      } else {
        this.#held = Buffer.alloc(0);
        this.#write(line);
      }
    }
  }

  /** At exit: true when podman refused the name (the line is swallowed); otherwise what is held is forwarded. */
  finish(exitCode: number): boolean {
    if (exitCode === 125 && this.#complete) return true;
    this.#flush();
    return false;
  }

  #candidate(partial: string): boolean {
    return partial.length <= WATCH_LIMIT && (PREFIX.startsWith(partial) || partial.startsWith(PREFIX));
  }

  #flush(): void {
    if (this.#held.length > 0) this.#write(this.#held);
    this.#held = Buffer.alloc(0);
    this.#complete = false;
  }
}
