/* check_schema.c — unit tests of the schema module (to be written). */
#include "testutil.h"

START_TEST(test_placeholder)
{
	ck_assert_int_eq(CP_OK, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("schema");
	tcase_add_test(tc, test_placeholder);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
