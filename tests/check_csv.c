/* check_csv.c — unit tests of the csv module (to be written). */
#include "testutil.h"

START_TEST(test_placeholder)
{
	ck_assert_int_eq(CP_OK, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("csv");
	tcase_add_test(tc, test_placeholder);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
