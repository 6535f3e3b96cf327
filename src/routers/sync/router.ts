import { router } from "../../trpc";

export const syncRouter = router({});
