/** Shared steps of the media tests: ask for an upload URL, PUT the bytes, attach. */
import type { client } from "../helpers/http";
import type { TestUser } from "../helpers/users";

export type Http = ReturnType<typeof client>;

export interface UploadTicket {
  upload_url: string;
  file_url: string;
  object_key: string;
  expires_in: number;
  required_headers: Record<string, string>;
}

export function bytesOf(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

export async function requestUpload(http: Http, user: TestUser, fileType: string, bytes: Uint8Array<ArrayBuffer>, fileName = "file.bin"): Promise<UploadTicket> {
  const r = await http.post<UploadTicket>("/media/upload-url", {
    token: user.token,
    body: { file_name: fileName, file_type: fileType, file_size: bytes.byteLength },
  });
  if (r.status !== 200) throw new Error(`upload-url failed: ${r.status} ${r.text}`);
  return r.body;
}

export async function putBytes(ticket: UploadTicket, bytes: Uint8Array<ArrayBuffer>, headers: Record<string, string> = ticket.required_headers): Promise<Response> {
  return fetch(ticket.upload_url, { method: "PUT", headers, body: bytes });
}

/** upload-url + PUT; throws unless the storage took the bytes. */
export async function upload(http: Http, user: TestUser, fileType: string, bytes: Uint8Array<ArrayBuffer>): Promise<UploadTicket> {
  const ticket = await requestUpload(http, user, fileType, bytes);
  const put = await putBytes(ticket, bytes);
  if (put.status !== 200) throw new Error(`PUT failed: ${put.status} ${await put.text()}`);
  return ticket;
}
