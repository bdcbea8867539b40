import { describe, expect, it } from 'vitest';
import { AiboxError } from '../../core/errors.js';
import {
  pipelineFailedNotice,
  renderPipelineFailedText,
  renderRollbackText,
  rollbackNotice,
} from '../messages.js';
import { escapeSlack, redactWebhook, toSlackPayload } from '../slack.js';

describe('renderRollbackText', () => {
  it('is the runbook §6 text exactly (golden)', async () => {
    const text = renderRollbackText('24.04-20260214', 'a broken apt mirror in the 20260221 build');
    expect(text).toBe(
      'Image rollback: aibox images have been rolled back to 24.04-20260214 due to\n' +
        "a broken apt mirror in the 20260221 build. Run 'aibox update' to get the stable image.",
    );
    await expect(`${text}\n`).toMatchFileSnapshot('./__golden__/rollback.txt');
  });

  it('does not double the full stop and keeps the description on one line', () => {
    expect(renderRollbackText(' 24.04-20260214 ', 'a crash on start.\n')).toBe(
      "Image rollback: aibox images have been rolled back to 24.04-20260214 due to\na crash on start. Run 'aibox update' to get the stable image.",
    );
  });

  it('refuses an empty tag or description', () => {
    expect(() => renderRollbackText('', 'x')).toThrow(AiboxError);
    expect(() => renderRollbackText('24.04-20260214', '  ')).toThrow(/notice description is empty/);
  });

  it('rollbackNotice carries the text unchanged', () => {
    const n = rollbackNotice('24.04-20260214', 'x');
    expect(n).toMatchObject({
      title: 'Image rollback',
      severity: 'warning',
      text: renderRollbackText('24.04-20260214', 'x'),
    });
  });
});

describe('pipeline failure notice', () => {
  const failure = {
    variant: 'java',
    step: 'scan',
    reason: 'scan gate refused …: 1 finding(s) at CRITICAL (CVE-2026-0001)',
    runId: '20260222-0200-7',
  };
  it('names variant, step, reason and run id (golden)', async () => {
    await expect(`${renderPipelineFailedText(failure)}\n`).toMatchFileSnapshot(
      './__golden__/pipeline-failed.txt',
    );
    expect(pipelineFailedNotice(failure)).toMatchObject({
      title: 'Image pipeline failed: aibox-java',
      severity: 'critical',
      fields: [
        { label: 'Variant', value: 'java' },
        { label: 'Step', value: 'scan' },
        { label: 'Run', value: '20260222-0200-7' },
      ],
    });
  });
});

describe('pipeline failure notice with a next step (issue 9 §6 escalation)', () => {
  it('carries the exact command on one line (golden)', async () => {
    const text = renderPipelineFailedText({
      variant: 'base',
      step: 'scan',
      reason: 'scan gate refused …: critical findings in the base image',
      runId: '20260222T020000-a1b2c3',
      next: 'Emergency rebuild (runbook §2): aiboxctl cve rebuild --cve CVE-2026-12345 --cvss 9.8 --package openssl --variant base;\n full triage: aiboxctl cve triage aibox/base@sha256:0000',
    });
    await expect(`${text}\n`).toMatchFileSnapshot('./__golden__/pipeline-failed-next.txt');
    expect(text.split('\n')[2]).toBe(
      'Next: Emergency rebuild (runbook §2): aiboxctl cve rebuild --cve CVE-2026-12345 --cvss 9.8 --package openssl --variant base; full triage: aiboxctl cve triage aibox/base@sha256:0000',
    );
  });
});

describe('toSlackPayload', () => {
  it('puts the exact text in `text` and a header/section/fields layout in `blocks` (golden)', async () => {
    const payload = toSlackPayload(rollbackNotice('24.04-20260214', 'a broken apt mirror'));
    expect(payload.text).toBe(renderRollbackText('24.04-20260214', 'a broken apt mirror'));
    await expect(`${JSON.stringify(payload, null, 2)}\n`).toMatchFileSnapshot(
      './__golden__/slack-rollback.json',
    );
  });

  it('escapes &, < and > as Slack requires', () => {
    expect(escapeSlack('a <b> & c')).toBe('a &lt;b&gt; &amp; c');
    const p = toSlackPayload({ title: 't', text: '<!channel> & co', severity: 'info' });
    expect(p.text).toBe('&lt;!channel&gt; &amp; co');
  });
});

describe('redactWebhook', () => {
  it('keeps the origin only', () => {
    expect(redactWebhook('https://hooks.slack.com/services/T1/B2/secret')).toBe(
      'https://hooks.slack.com/***',
    );
    expect(redactWebhook('not a url /services/x')).toBe('***');
  });
});
