import { request, type Fetch } from '$lib/api/request';
import type { OutboundEmailList, SmtpSettings, SmtpSettingsInput, SmtpSettingsState, SmtpTestResult } from '$lib/api/types';

export const fetchSmtpSettings = (fetch: Fetch, signal?: AbortSignal) => request<SmtpSettingsState>(fetch, '/mail/smtp', { signal });

/** Creates or replaces the settings; leave `password` out to keep the stored one. */
export const saveSmtpSettings = (fetch: Fetch, input: SmtpSettingsInput) => request<SmtpSettings>(fetch, '/mail/smtp', { method: 'PUT', body: input });

export const deleteSmtpSettings = (fetch: Fetch) => request<void>(fetch, '/mail/smtp', { method: 'DELETE' });

/** Sends a test email as a `mail.test` run and waits up to 30 s for its outcome. */
export const sendSmtpTest = (fetch: Fetch, to: string) => request<SmtpTestResult>(fetch, '/mail/smtp/test', { method: 'POST', body: { to } });

/** Emails about one resource (`invoice:<id>`), or all, newest first. */
export const fetchEmails = (fetch: Fetch, filter: { resource?: string; kind?: string } = {}, signal?: AbortSignal) =>
  request<OutboundEmailList>(fetch, '/mail/emails', { query: filter, signal });
