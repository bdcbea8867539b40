/**
 * The notify port: workflows (pipeline, rollback) hand a Notice to a Notifier and never know
 * whether it goes to Slack or elsewhere.
 */

export type NoticeSeverity = 'info' | 'warning' | 'critical';

export interface Notice {
  /** Short headline, e.g. "Image rollback". */
  readonly title: string;
  /** The message itself, plain text (adapters escape it for their format). */
  readonly text: string;
  readonly severity: NoticeSeverity;
  /** Key facts shown as label/value pairs, in order. */
  readonly fields?: readonly { readonly label: string; readonly value: string }[];
}

/** Delivers notices; throws NOTIFY_FAILED when it cannot. */
export interface Notifier {
  notify(notice: Notice): Promise<void>;
}
