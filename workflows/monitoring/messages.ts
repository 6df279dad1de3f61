import type { NotificationRequest } from '../../activities/monitoring/types';

/**
 * What an alert notification says, in email and elsewhere. Pure: the alert workflow builds its
 * emails with it (and hands them to the mail module), and the same words reach every channel.
 */

export function subjectOf(req: NotificationRequest): string {
  const a = req.alert;
  const what = req.event === 'resolved' ? 'RESOLVED' : req.event === 'reminder' ? 'STILL FIRING' : 'FIRING';
  return `[${what}] [${a.severity}] ${a.ruleName}: ${a.resourceName}`;
}

export function textOf(req: NotificationRequest): string {
  const a = req.alert;
  return [
    a.summary,
    '',
    `Rule: ${a.ruleName}`,
    `Resource: ${a.resourceName} (${a.resourceKind})`,
    `Severity: ${a.severity}`,
    ...(a.value !== null ? [`Value: ${Number(a.value.toFixed(3))}`] : []),
    ...(a.threshold !== null ? [`Threshold: ${a.threshold}`] : []),
    ...(a.firedAt ? [`Firing since: ${new Date(a.firedAt).toISOString()}`] : []),
    ...(a.resolvedAt ? [`Resolved at: ${new Date(a.resolvedAt).toISOString()}`] : []),
    '',
    `Alert ${req.alertId}, notification ${req.sequence}.`,
  ].join('\n');
}

