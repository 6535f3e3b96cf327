/** The users domain as other domains and the router use it (no tRPC imports). */
export { userCardsFor, userSummariesFor, type UserCard } from "./cards";
export { addContact, addContactByEmail, blockUser, listBlocked, listContacts, removeContact, unblockUser } from "./contacts-and-blocks";
export { getUserAs, updateProfile, USER_NOT_FOUND } from "./profile";
export { normalizeSearchTerm, searchUsers } from "./search";
