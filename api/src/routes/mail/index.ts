import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse } from '../../schemas';
import { serviceContext } from '../../services/context';
import { listEmails } from '../../services/mail/emails-service';
import { deleteSmtpSettings, getSmtpSettings, putSmtpSettings, sendSmtpTest } from '../../services/mail/smtp-settings-service';
import { EmailListQuery, EmailListSchema, SmtpSettingsBody, SmtpSettingsSchema, SmtpSettingsStateSchema, SmtpTestBody, SmtpTestResultSchema } from './schema';

const tags = ['mail'];
// SMTP settings hold a password: admins and owners only.
const manage = [requirePermission('mail.manage')];

const getSettings = createRoute({
  method: 'get',
  path: '/smtp',
  tags,
  summary: "The organization's SMTP settings (the password is never returned)",
  middleware: manage,
  responses: { 200: jsonResponse(SmtpSettingsStateSchema, 'The settings, or null'), ...errorResponses },
});
const putSettings = createRoute({
  method: 'put',
  path: '/smtp',
  tags,
  summary: "Set the organization's SMTP server; the password is write-only",
  middleware: manage,
  request: { body: jsonBody(SmtpSettingsBody) },
  responses: { 200: jsonResponse(SmtpSettingsSchema, 'Stored'), ...errorResponses },
});
const deleteSettings = createRoute({
  method: 'delete',
  path: '/smtp',
  tags,
  summary: 'Remove the SMTP settings; emails wait for new ones',
  middleware: manage,
  responses: { 204: { description: 'Removed' }, ...errorResponses },
});
const test = createRoute({
  method: 'post',
  path: '/smtp/test',
  tags,
  summary: 'Send a test email through the stored settings (a mail.test run)',
  middleware: manage,
  request: { body: jsonBody(SmtpTestBody) },
  responses: { 200: jsonResponse(SmtpTestResultSchema, 'What became of the test email'), ...errorResponses },
});
const emails = createRoute({
  method: 'get',
  path: '/emails',
  tags,
  summary: 'Emails the organization sent or is sending, newest first',
  middleware: [requirePermission('mail.read')],
  request: { query: EmailListQuery },
  responses: { 200: jsonResponse(EmailListSchema, 'Emails'), ...errorResponses },
});

/** Mounted at /api/mail. */
export function mailRoutes() {
  return createRouter()
    .openapi(getSettings, async (c) => c.json(SmtpSettingsStateSchema.parse({ settings: await getSmtpSettings(serviceContext(c)) }), 200))
    .openapi(putSettings, async (c) => c.json(SmtpSettingsSchema.parse(await putSmtpSettings(serviceContext(c), c.req.valid('json'))), 200))
    .openapi(deleteSettings, async (c) => {
      await deleteSmtpSettings(serviceContext(c));
      return c.body(null, 204);
    })
    .openapi(test, async (c) => c.json(SmtpTestResultSchema.parse(await sendSmtpTest(serviceContext(c), c.req.valid('json').to)), 200))
    .openapi(emails, async (c) => c.json(EmailListSchema.parse({ items: await listEmails(serviceContext(c), c.req.valid('query')) }), 200));
}
