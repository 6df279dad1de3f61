// Every workflow the core worker runs. Workflow code imports only @temporalio/workflow, pure
// constants and activity *types*; see the lint rule in eslint.config.js.
export { containerCreate } from './container-create';
export { containerPower } from './container-power';
export { containerRemove } from './container-remove';
export { noop } from './noop';
export { appDeployer } from './app-deployer';
export { deployRelease } from './deploy-release';
export { vmProvision } from './vm-provision';
export { lxcProvision } from './lxc-provision';
export { vmPower, vmResize, vmSnapshot, vmRollback, vmDeleteSnapshot, vmDestroy, vmBackup } from './vm-lifecycle';
export { smtpTest } from './mail/smtp-test';
export { monitoringCollect } from './monitoring/collect';
export { monitoringEvaluate, monitoringMaintenance } from './monitoring/evaluate';
export { alertInstance } from './monitoring/alert-instance';
export { orderFulfil } from './billing/order';
export { billingRun } from './billing/run';
export { finalizeSubscriptionPeriods, invoiceSubscriptions, issueInvoiceRange, issueInvoices, issueCreditNote } from './billing/invoice';
export { subscriptionLifecycle } from './billing/subscription';
export { terraformRun } from './terraform/stack-run';
export { terraformDriftCheck } from './terraform/drift-check';
export { kycCase } from './kyc/kyc-case';
export { paymentIntentSync, paymentReceipt, paymentsReconcile } from './billing/payment';
export { ticketLifecycle } from './tickets/ticket';
export { serviceSuspension } from './service-suspension';
export { dunningLadder } from './billing/dunning';
