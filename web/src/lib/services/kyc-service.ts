import { apiUrl, readApiError, request, requestHeaders, type Fetch } from '$lib/api/request';
import type { KycCaseDetail, KycCaseList, KycCaseView, KycDecisionInput, KycDocument, KycDocumentKind, KycRevokeInput } from '$lib/api/types';

/** KYC cases (decision 0023): a customer user's calls are narrowed to their own customer by the API. */
export const fetchKycQueue = (fetch: Fetch, state = 'in_review') => request<KycCaseList>(fetch, '/kyc/cases', { query: { state } });
export const fetchKycCase = (fetch: Fetch, customerId: string, signal?: AbortSignal) => request<KycCaseDetail>(fetch, `/kyc/cases/${encodeURIComponent(customerId)}`, { signal });
export const openKycCase = (fetch: Fetch, customerId: string) => request<{ workflowId: string }>(fetch, `/kyc/cases/${encodeURIComponent(customerId)}`, { method: 'POST', body: {} });
export const submitKyc = (fetch: Fetch, customerId: string) => request<KycCaseView>(fetch, `/kyc/cases/${encodeURIComponent(customerId)}/submit`, { method: 'POST' });
export const decideKyc = (fetch: Fetch, customerId: string, body: KycDecisionInput) => request<KycCaseView>(fetch, `/kyc/cases/${encodeURIComponent(customerId)}/decision`, { method: 'POST', body });
/** Withdraws an approval: the customer's services are suspended until they are verified again. */
export const revokeKyc = (fetch: Fetch, customerId: string, body: KycRevokeInput) => request<KycCaseView>(fetch, `/kyc/cases/${encodeURIComponent(customerId)}/revoke`, { method: 'POST', body });
export const kycDocumentUrl = (id: string) => apiUrl(`/kyc/documents/${encodeURIComponent(id)}/content`);

/** Uploads an identity document as the raw body; the API judges its type by content. */
export async function uploadKycDocument(fetch: Fetch, customerId: string, file: File, kind: KycDocumentKind, expiresOn?: string): Promise<KycDocument> {
  const headers = requestHeaders('POST', false);
  headers.set('content-type', 'application/octet-stream');
  const res = await fetch(apiUrl(`/kyc/cases/${encodeURIComponent(customerId)}/documents`, { kind, filename: file.name, expiresOn }), { method: 'POST', headers, body: file, credentials: 'same-origin' });
  if (!res.ok) throw await readApiError(res);
  return (await res.json()) as KycDocument;
}
